#pragma once
// Parsing of the broker URL given in Herald's configuration.
#include <cstdint>
#include <string>
#include <string_view>

namespace herald {

struct AmqpUrl {
  std::string host;
  uint16_t port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";

  // For logs: the URL without the password.
  std::string redacted() const;
};

// Accepts amqp://[user[:password]@]host[:port][/vhost] with percent-escapes in user,
// password and vhost (a vhost of "/" is written %2F; an empty or missing one means
// "/"). IPv6 hosts go in brackets. Throws std::invalid_argument saying what is wrong;
// called at start-up only.
AmqpUrl parse_amqp_url(std::string_view url);

}  // namespace herald
