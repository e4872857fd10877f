#pragma once
// HS256 JSON Web Tokens (RFC 7519) as Herald uses them: a signed claim set saying
// who the holder is (`sub`), until when (`exp`, unix seconds), which channels it may
// subscribe to (`channels`) and publish to (`publish`), as patterns: an exact name,
// or a prefix ending in `*` ("scores:*"), or "*" for all.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald {

struct TokenClaims {
  std::string sub;
  int64_t exp = 0;  // 0: never expires
  std::vector<std::string> channels;
  std::vector<std::string> publish;
  std::string info;  // the optional `info` object as compact JSON ("" when absent)
  bool inspect = false;  // `"inspect": true`: may open the node's inspector feed

  [[nodiscard]] bool may_subscribe(std::string_view channel) const;
  [[nodiscard]] bool may_publish(std::string_view channel) const;
};

struct TokenError {
  std::string code;     // "invalid_token" or "token_expired"
  std::string message;
};

// Verifies signature, algorithm and expiry against `secret` at `now_s`.
struct TokenResult {
  std::optional<TokenClaims> claims;
  TokenError error;
};
[[nodiscard]] TokenResult verify_token(std::string_view token, std::string_view secret, int64_t now_s);

// Makes a token (for tests, tools and the documentation's examples).
[[nodiscard]] std::string sign_token(std::string_view claims_json, std::string_view secret);

[[nodiscard]] bool pattern_matches(std::string_view pattern, std::string_view channel);

}  // namespace herald
