#include "transports/http/request_auth.h"

#include "src/clock.h"

namespace herald {

std::optional<ClientError> authorize_subscribe(const Access& access, const HttpRequest& req,
                                               const std::vector<std::string>& channels,
                                               std::optional<TokenClaims>& claims) {
  std::optional<std::string> token = bearer_of(req.header("authorization"));
  if (!token) token = req.param("token");
  if (auto err = access.read_token(token ? &*token : nullptr, unix_ms() / 1000, claims)) return err;
  for (const auto& ch : channels)
    if (auto err = access.check_subscribe(ch, claims)) return err;
  return std::nullopt;
}

}  // namespace herald
