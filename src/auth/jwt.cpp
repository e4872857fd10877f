#include "src/auth/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

namespace herald {
namespace {

constexpr size_t kMaxTokenBytes = 8192;

std::string b64url_encode(std::string_view in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(table[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out.push_back(table[(v >> 18) & 63]);
    out.push_back(table[(v >> 12) & 63]);
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    for (int s = 18; s >= 6; s -= 6) out.push_back(table[(v >> s) & 63]);
  }
  return out;
}

std::optional<std::string> b64url_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

TokenResult invalid(std::string message) { return {std::nullopt, {"invalid_token", std::move(message)}}; }

bool read_patterns(const nlohmann::json& claims, const char* name, std::vector<std::string>& out) {
  auto it = claims.find(name);
  if (it == claims.end()) return true;
  if (!it->is_array()) return false;
  for (const auto& p : *it) {
    if (!p.is_string()) return false;
    out.push_back(p.get<std::string>());
  }
  return true;
}

}  // namespace

bool pattern_matches(std::string_view pattern, std::string_view channel) {
  if (!pattern.empty() && pattern.back() == '*') return channel.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  return pattern == channel;
}

bool TokenClaims::may_subscribe(std::string_view channel) const {
  for (const auto& p : channels)
    if (pattern_matches(p, channel)) return true;
  return false;
}

bool TokenClaims::may_publish(std::string_view channel) const {
  for (const auto& p : publish)
    if (pattern_matches(p, channel)) return true;
  return false;
}

std::string sign_token(std::string_view claims_json, std::string_view secret) {
  std::string signing = b64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + b64url_encode(claims_json);
  return signing + "." + b64url_encode(hmac_sha256(secret, signing));
}

TokenResult verify_token(std::string_view token, std::string_view secret, int64_t now_s) {
  if (token.empty()) return invalid("no token given");
  if (token.size() > kMaxTokenBytes) return invalid("the token is longer than 8 KiB");
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return invalid("a token has three base64url parts separated by dots");
  const auto signing = token.substr(0, dot2);
  const auto sig = b64url_decode(token.substr(dot2 + 1));
  const std::string expected = hmac_sha256(secret, signing);
  // Signature first, in constant time: nothing about an unsigned token is trusted.
  if (!sig || sig->size() != expected.size() || CRYPTO_memcmp(sig->data(), expected.data(), expected.size()) != 0)
    return invalid("the token's signature does not match");
  const auto header_raw = b64url_decode(token.substr(0, dot1));
  const auto claims_raw = b64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!header_raw || !claims_raw) return invalid("the token is not valid base64url");
  auto header = nlohmann::json::parse(*header_raw, nullptr, false);
  if (!header.is_object() || header.value("alg", "") != "HS256") return invalid("only HS256 tokens are accepted");
  auto claims = nlohmann::json::parse(*claims_raw, nullptr, false);
  if (!claims.is_object()) return invalid("the token's claims are not a JSON object");

  TokenClaims out;
  if (auto s = claims.find("sub"); s != claims.end()) {
    if (!s->is_string()) return invalid("claim 'sub' must be a string");
    out.sub = s->get<std::string>();
  }
  if (auto e = claims.find("exp"); e != claims.end()) {
    if (!e->is_number()) return invalid("claim 'exp' must be a number of seconds");
    // RFC 7519 allows any JSON number; one past int64 cannot be converted (undefined
    // behaviour for a double, a negative wrap for an unsigned): clamp first.
    constexpr int64_t kFar = INT64_MAX;
    if (e->is_number_float()) {
      const double d = e->get<double>();
      out.exp = d >= 9e18 ? kFar : d <= 0 ? -1 : static_cast<int64_t>(d);
    } else if (e->is_number_unsigned()) {
      out.exp = e->get<uint64_t>() > static_cast<uint64_t>(kFar) ? kFar : e->get<int64_t>();
    } else {
      out.exp = e->get<int64_t>();
    }
    if (out.exp <= now_s) return {std::nullopt, {"token_expired", "the token expired; get a new one"}};
  }
  if (!read_patterns(claims, "channels", out.channels) || !read_patterns(claims, "publish", out.publish))
    return invalid("claims 'channels' and 'publish' must be arrays of strings");
  if (auto i = claims.find("info"); i != claims.end()) out.info = i->dump();
  if (auto i = claims.find("inspect"); i != claims.end()) {
    if (!i->is_boolean()) return invalid("claim 'inspect' must be true or false");
    out.inspect = i->get<bool>();
  }
  return {std::move(out), {}};
}

}  // namespace herald
