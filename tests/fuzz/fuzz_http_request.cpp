// libFuzzer target for the parsers that see raw client input before any transport:
// the HTTP request parser (request line, headers, query string, body length), the
// cursor parser and channel-name checks. Any input must parse or fail cleanly, and a
// parsed request must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "src/channel_name.h"
#include "src/cursor.h"
#include "transports/http/http_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  herald::HttpLimits limits;
  limits.max_header_bytes = 4096;
  limits.max_body_bytes = 4096;
  herald::HttpRequest req;
  herald::HttpParseError err;
  size_t consumed = 0;
  const auto status = herald::parse_http_request(input, limits, req, consumed, err);
  if (status == herald::ParseStatus::Done) {
    if (consumed == 0 || consumed > size || req.body.size() > limits.max_body_bytes) abort();
    for (const auto& [name, value] : req.headers)
      for (char c : name)
        if (c >= 'A' && c <= 'Z') abort();  // names are lower-cased
    for (const auto& [key, value] : req.query) {
      (void)herald::valid_channel(value);
      if (auto c = herald::parse_cursor(value); c && herald::parse_cursor(c->str())->seq != c->seq) abort();
    }
  } else if (status == herald::ParseStatus::Error) {
    if (err.status < 400 || err.status > 599 || err.reason.empty()) abort();
  }
  if (auto c = herald::parse_cursor(input); c && !(*herald::parse_cursor(c->str()) == *c)) abort();
  (void)herald::channel_namespace(input);
  return 0;
}
