#include <catch2/catch.hpp>

#include "src/auth/access.h"
#include "src/auth/jwt.h"
#include "src/namespaces.h"

using namespace herald;

TEST_CASE("tokens: signed claims verify, anything altered does not") {
  const std::string secret = "k3y";
  const auto token = sign_token(R"({"sub":"u42","exp":2000,"channels":["user:42","scores:*"],"publish":["chat:*"],"info":{"name":"Ann"}})", secret);
  auto ok = verify_token(token, secret, 1000);
  REQUIRE(ok.claims);
  REQUIRE(ok.claims->sub == "u42");
  REQUIRE(ok.claims->exp == 2000);
  REQUIRE(ok.claims->info == R"({"name":"Ann"})");
  REQUIRE(ok.claims->may_subscribe("user:42"));
  REQUIRE(ok.claims->may_subscribe("scores:match-1"));
  REQUIRE_FALSE(ok.claims->may_subscribe("user:43"));
  REQUIRE_FALSE(ok.claims->may_subscribe("scores"));
  REQUIRE(ok.claims->may_publish("chat:room"));
  REQUIRE_FALSE(ok.claims->may_publish("scores:x"));

  REQUIRE(verify_token(token, secret, 2000).error.code == "token_expired");
  REQUIRE(verify_token(token, "other", 1000).error.code == "invalid_token");
  std::string tampered = token;
  tampered[tampered.find('.') + 3] ^= 1;
  REQUIRE_FALSE(verify_token(tampered, secret, 1000).claims);
  REQUIRE_FALSE(verify_token("a.b", secret, 1000).claims);
  REQUIRE_FALSE(verify_token("", secret, 1000).claims);
  REQUIRE_FALSE(verify_token(std::string(9000, 'a'), secret, 1000).claims);
  // alg "none" with an empty signature is refused like any unsigned token.
  const auto dot = token.find('.');
  const std::string none = "eyJhbGciOiJub25lIn0" + token.substr(dot, token.rfind('.') - dot) + ".";
  REQUIRE_FALSE(verify_token(none, secret, 1000).claims);
  // Claims of the wrong type are refused even when signed.
  REQUIRE_FALSE(verify_token(sign_token(R"({"channels":"user:42"})", secret), secret, 1000).claims);
  REQUIRE_FALSE(verify_token(sign_token(R"({"exp":"soon"})", secret), secret, 1000).claims);
  // The inspector right: only a boolean true grants it.
  REQUIRE_FALSE(ok.claims->inspect);
  const auto inspector = verify_token(sign_token(R"({"sub":"ops","inspect":true})", secret), secret, 1000);
  REQUIRE(inspector.claims);
  REQUIRE(inspector.claims->inspect);
  REQUIRE_FALSE(verify_token(sign_token(R"({"inspect":"yes"})", secret), secret, 1000).claims);
}

// Found by fuzz_token: an `exp` past int64 was converted with undefined behaviour.
TEST_CASE("tokens: any numeric exp is compared without overflow") {
  const std::string secret = "s3cret";
  auto exp_of = [&](const char* claims) { return verify_token(sign_token(claims, secret), secret, 1000); };
  REQUIRE(exp_of(R"({"exp":1e300})").claims->exp == INT64_MAX);
  REQUIRE(exp_of(R"({"exp":18446744073709551615})").claims->exp == INT64_MAX);
  REQUIRE(exp_of(R"({"exp":2000.5})").claims->exp == 2000);
  REQUIRE(exp_of(R"({"exp":-1e300})").error.code == "token_expired");
  REQUIRE(exp_of(R"({"exp":0.5})").error.code == "token_expired");
  REQUIRE(exp_of(R"({"exp":-5})").error.code == "token_expired");
}

TEST_CASE("patterns: exact names, prefixes ending in *, and *") {
  REQUIRE(pattern_matches("*", "anything:at-all"));
  REQUIRE(pattern_matches("a:*", "a:"));
  REQUIRE(pattern_matches("a:b", "a:b"));
  REQUIRE_FALSE(pattern_matches("a:b", "a:bc"));
  REQUIRE_FALSE(pattern_matches("a:*", "b:a"));
}

TEST_CASE("access: private namespaces need a token that names the channel") {
  Config config;
  config.client_publish = {"chat"};
  Namespaces ns(config);
  Access open(ns, "s", "");
  std::optional<TokenClaims> claims;
  REQUIRE_FALSE(open.check_subscribe("scores:1", std::nullopt));
  REQUIRE_FALSE(open.check_client_publish("chat:1", std::nullopt));
  REQUIRE(open.check_client_publish("scores:1", std::nullopt)->http_status == 403);
  const std::string bad = "x.y.z";
  REQUIRE(open.read_token(&bad, 0, claims)->http_status == 401);
  const std::string key_only = "k";
  Access keyed(ns, "", "k");
  REQUIRE_FALSE(keyed.check_api_publish({"a"}, &key_only, 0));
  REQUIRE(keyed.check_api_publish({"a"}, nullptr, 0)->http_status == 401);
  const std::string token = sign_token(R"({"publish":["a:*"]})", "s");
  Access both(ns, "s", "k");
  REQUIRE_FALSE(both.check_api_publish({"a:1", "a:2"}, &token, 0));
  REQUIRE(both.check_api_publish({"a:1", "b:2"}, &token, 0)->http_status == 403);
}
