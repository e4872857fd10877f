#pragma once
// Who may subscribe and publish where: namespace policy plus the client's token.
// Decided here once for every transport.
#include <memory>
#include <optional>
#include <string>

#include "src/auth/jwt.h"
#include "src/namespaces.h"
#include "src/presence_table.h"
#include "src/subscribe_request.h"

namespace herald {

class Access {
 public:
  Access(const Namespaces& namespaces, std::string token_secret, std::string publish_key)
      : namespaces_(namespaces), secret_(std::move(token_secret)), publish_key_(std::move(publish_key)) {}

  // A token presented by a client: verified, or a 401 error. nullptr: none given.
  [[nodiscard]] std::optional<ClientError> read_token(const std::string* token, int64_t now_s,
                                                      std::optional<TokenClaims>& claims) const;
  // May this client (with `claims`, if it gave a valid token) subscribe to `channel`?
  [[nodiscard]] std::optional<ClientError> check_subscribe(const std::string& channel,
                                                           const std::optional<TokenClaims>& claims) const;
  // A client publish over WebSocket.
  [[nodiscard]] std::optional<ClientError> check_client_publish(const std::string& channel,
                                                                const std::optional<TokenClaims>& claims) const;
  // POST /api/publish with this Authorization bearer value (nullptr: none).
  [[nodiscard]] std::optional<ClientError> check_api_publish(const std::vector<std::string>& channels,
                                                             const std::string* bearer, int64_t now_s) const;
  // Is `bearer` this server's publish key (the backend's credential)?
  [[nodiscard]] bool is_publish_key(const std::string* bearer) const;
  [[nodiscard]] const Namespaces& namespaces() const { return namespaces_; }

 private:
  const Namespaces& namespaces_;
  std::string secret_;
  std::string publish_key_;
};

// Who a token's holder is in presence listings (sub, info); null without a token or sub.
[[nodiscard]] std::shared_ptr<const PresenceMember> presence_member(const std::optional<TokenClaims>& claims);

// The bearer value of an `Authorization: Bearer X` header; nullopt otherwise.
[[nodiscard]] std::optional<std::string> bearer_of(const std::string* authorization);

}  // namespace herald
