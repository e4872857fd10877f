#pragma once
// The token of an HTTP request (Authorization: Bearer, or ?token= for EventSource and
// JSONP, which cannot set headers), checked by the core's Access for each channel.
#include <optional>
#include <string>
#include <vector>

#include "src/auth/access.h"
#include "transports/http/http_request.h"

namespace herald {

[[nodiscard]] std::optional<ClientError> authorize_subscribe(const Access& access, const HttpRequest& req,
                                                             const std::vector<std::string>& channels,
                                                             std::optional<TokenClaims>& claims);

}  // namespace herald
