#pragma once
// The server address every transport and publish() start from, parsed once when the
// Client is built so a typo fails at start-up instead of on every reconnect.
#include <optional>
#include <string>
#include <string_view>

namespace herald::client::detail {

struct BaseUrl {
  std::string scheme;  // "http" ("https" only for the libraries that speak TLS)
  std::string host;    // without brackets, also for IPv6
  int port = 80;
  std::string prefix;  // path before /ws, /sse, ...; empty or starting with '/', no trailing '/'

  // "http://host:port", what cpp-httplib's Client takes.
  [[nodiscard]] std::string origin() const;
  // The Host header value.
  [[nodiscard]] std::string host_header() const;
};

// Accepts http://host[:port][/prefix] and https://...; nullopt for anything else.
[[nodiscard]] std::optional<BaseUrl> parse_base_url(std::string_view text);

// Percent-encodes a query parameter value (channel names and cursors are plain
// ASCII today, but the encoding keeps the query well-formed whatever they hold).
[[nodiscard]] std::string url_encode(std::string_view value);

}  // namespace herald::client::detail
