#pragma once
// An HTTP/1.1 request as Herald's routes see it, and the parser that cuts requests
// out of a connection's input buffer. Headers are kept in arrival order with
// lower-cased names; the query keeps repeated keys (?channel=a&channel=b).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald {

struct HttpRequest {
  std::string method;
  std::string target;  // as sent: path and query
  std::string path;    // percent-decoded
  std::string version; // "HTTP/1.1"
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_ip;

  [[nodiscard]] const std::string* header(std::string_view lower_name) const;
  [[nodiscard]] std::optional<std::string> param(std::string_view key) const;
  [[nodiscard]] std::vector<std::string> params(std::string_view key) const;
  [[nodiscard]] bool keep_alive() const;
};

struct HttpParseError {
  int status = 400;
  std::string reason;
};

enum class ParseStatus { NeedMore, Done, Error };

struct HttpLimits {
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1 << 20;
};

// Parses one request from the front of `input`. On Done, `consumed` is its length.
[[nodiscard]] ParseStatus parse_http_request(std::string_view input, const HttpLimits& limits, HttpRequest& out,
                                             size_t& consumed, HttpParseError& error);

// Decodes %XX and '+' (form encoding). nullopt on a malformed escape.
[[nodiscard]] std::optional<std::string> url_decode(std::string_view s, bool plus_is_space);
[[nodiscard]] bool parse_query(std::string_view qs, std::vector<std::pair<std::string, std::string>>& out);

}  // namespace herald
