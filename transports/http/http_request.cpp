#include "transports/http/http_request.h"

#include <algorithm>
#include <charconv>

namespace herald {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_token_char(char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

ParseStatus fail(HttpParseError& e, int status, std::string reason) {
  e.status = status;
  e.reason = std::move(reason);
  return ParseStatus::Error;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool parse_query(std::string_view qs, std::vector<std::pair<std::string, std::string>>& out) {
  while (!qs.empty()) {
    auto amp = qs.find('&');
    auto part = qs.substr(0, amp);
    qs = amp == std::string_view::npos ? std::string_view{} : qs.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    auto key = url_decode(part.substr(0, eq), true);
    auto value = url_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), true);
    if (!key || !value) return false;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return true;
}

const std::string* HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

std::optional<std::string> HttpRequest::param(std::string_view key) const {
  for (const auto& [k, v] : query)
    if (k == key) return v;
  return std::nullopt;
}

std::vector<std::string> HttpRequest::params(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query)
    if (k == key) out.push_back(v);
  return out;
}

bool HttpRequest::keep_alive() const {
  const std::string* conn = header("connection");
  const bool http10 = version == "HTTP/1.0";
  if (!conn) return !http10;
  std::string_view list = *conn;
  bool close = false, keep = false;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto token = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (iequals(token, "close")) close = true;
    if (iequals(token, "keep-alive")) keep = true;
  }
  return !close && (!http10 || keep);
}

ParseStatus parse_http_request(std::string_view in, const HttpLimits& limits, HttpRequest& out, size_t& consumed,
                               HttpParseError& error) {
  // Tolerate blank lines before a request (RFC 9112 2.2).
  size_t start = 0;
  while (start + 1 < in.size() && in[start] == '\r' && in[start + 1] == '\n') start += 2;
  const auto end = in.find("\r\n\r\n", start);
  if (end == std::string_view::npos) {
    if (in.size() - start > limits.max_header_bytes) return fail(error, 431, "request headers are too large");
    return ParseStatus::NeedMore;
  }
  if (end - start > limits.max_header_bytes) return fail(error, 431, "request headers are too large");

  std::string_view head = in.substr(start, end - start);
  auto line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  head = line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);

  auto sp1 = line.find(' ');
  auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return fail(error, 400, "malformed request line");
  out = HttpRequest{};
  out.method = std::string(line.substr(0, sp1));
  out.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  out.version = std::string(line.substr(sp2 + 1));
  if (out.method.empty() || !std::all_of(out.method.begin(), out.method.end(), is_token_char))
    return fail(error, 400, "malformed request method");
  if (out.version != "HTTP/1.1" && out.version != "HTTP/1.0")
    return fail(error, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
  if (out.target.empty() || out.target[0] != '/') return fail(error, 400, "request target must be an absolute path");

  const auto q = out.target.find('?');
  auto path = url_decode(std::string_view(out.target).substr(0, q), false);
  if (!path) return fail(error, 400, "malformed percent-encoding in path");
  out.path = std::move(*path);
  if (q != std::string::npos && !parse_query(std::string_view(out.target).substr(q + 1), out.query))
    return fail(error, 400, "malformed percent-encoding in query string");

  while (!head.empty()) {
    auto eol = head.find("\r\n");
    std::string_view h = head.substr(0, eol);
    head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    if (h.front() == ' ' || h.front() == '\t') return fail(error, 400, "obsolete header line folding");
    auto colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(error, 400, "malformed header line");
    std::string name(h.substr(0, colon));
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return fail(error, 400, "malformed header name");
    std::transform(name.begin(), name.end(), name.begin(), lower);
    out.headers.emplace_back(std::move(name), std::string(trim(h.substr(colon + 1))));
  }
  if (out.version == "HTTP/1.1" && !out.header("host")) return fail(error, 400, "missing Host header");
  if (out.header("transfer-encoding")) return fail(error, 411, "chunked request bodies are not accepted; send Content-Length");

  size_t body_len = 0;
  if (const std::string* cl = out.header("content-length")) {
    auto [p, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), body_len);
    if (ec != std::errc() || p != cl->data() + cl->size()) return fail(error, 400, "malformed Content-Length");
    if (body_len > limits.max_body_bytes)
      return fail(error, 413, "request body exceeds the limit of " + std::to_string(limits.max_body_bytes) + " bytes");
  }
  const size_t head_len = end + 4;
  if (in.size() - head_len < body_len) return ParseStatus::NeedMore;
  out.body = std::string(in.substr(head_len, body_len));
  consumed = head_len + body_len;
  return ParseStatus::Done;
}

}  // namespace herald
