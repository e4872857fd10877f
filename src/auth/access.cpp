#include "src/auth/access.h"

#include <openssl/crypto.h>

#include "src/channel_name.h"

namespace herald {

std::optional<std::string> bearer_of(const std::string* authorization) {
  const std::string prefix = "Bearer ";
  if (!authorization || authorization->compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  return authorization->substr(prefix.size());
}

std::shared_ptr<const PresenceMember> presence_member(const std::optional<TokenClaims>& claims) {
  if (!claims || claims->sub.empty()) return nullptr;
  return std::make_shared<const PresenceMember>(PresenceMember{claims->sub, claims->info});
}

std::optional<ClientError> Access::read_token(const std::string* token, int64_t now_s,
                                              std::optional<TokenClaims>& claims) const {
  claims.reset();
  if (!token) return std::nullopt;
  if (secret_.empty())
    return ClientError{401, "invalid_token", "this server accepts no tokens (it has no --token-secret)"};
  auto result = verify_token(*token, secret_, now_s);
  if (!result.claims) return ClientError{401, result.error.code, result.error.message};
  claims = std::move(result.claims);
  return std::nullopt;
}

std::optional<ClientError> Access::check_subscribe(const std::string& channel,
                                                   const std::optional<TokenClaims>& claims) const {
  const auto& policy = namespaces_.for_channel(channel);
  if (policy.presence && (!claims || claims->sub.empty()))
    // Presence lists who is there: an anonymous subscriber could be neither listed nor told apart.
    return ClientError{401, "token_required",
                       "channel '" + channel + "' has presence: subscribe with a token that has a 'sub' claim (who you are)"};
  if (!policy.is_private) return std::nullopt;
  if (!claims)
    return ClientError{401, "token_required",
                       "channel '" + channel + "' is private: send a token (Authorization: Bearer, ?token= or the subscribe command)"};
  if (!claims->may_subscribe(channel))
    return ClientError{403, "forbidden", "the token does not allow subscribing to '" + channel + "'"};
  return std::nullopt;
}

std::optional<ClientError> Access::check_client_publish(const std::string& channel,
                                                        const std::optional<TokenClaims>& claims) const {
  if (claims && claims->may_publish(channel)) return std::nullopt;
  const auto& policy = namespaces_.for_channel(channel);
  if (policy.client_publish && !check_subscribe(channel, claims)) return std::nullopt;
  return ClientError{403, "publish_forbidden",
                     "clients may not publish to namespace '" + std::string(channel_namespace(channel)) +
                         "' (needs client_publish in its policy or a token with publish rights)"};
}

bool Access::is_publish_key(const std::string* bearer) const {
  return bearer && !publish_key_.empty() && bearer->size() == publish_key_.size() &&
         CRYPTO_memcmp(bearer->data(), publish_key_.data(), publish_key_.size()) == 0;
}

std::optional<ClientError> Access::check_api_publish(const std::vector<std::string>& channels, const std::string* bearer,
                                                     int64_t now_s) const {
  if (is_publish_key(bearer)) return std::nullopt;
  if (bearer && !secret_.empty()) {
    std::optional<TokenClaims> claims;
    if (auto err = read_token(bearer, now_s, claims)) {
      if (!publish_key_.empty()) return ClientError{401, "unauthorized", "send the publish key or a valid token as 'Authorization: Bearer ...'"};
      return err;
    }
    for (const auto& ch : channels)
      if (!claims->may_publish(ch)) return ClientError{403, "forbidden", "the token does not allow publishing to '" + ch + "'"};
    return std::nullopt;
  }
  if (publish_key_.empty()) return std::nullopt;  // an open publish API, as configured
  return ClientError{401, "unauthorized", "send the publish key as 'Authorization: Bearer KEY'"};
}

}  // namespace herald
