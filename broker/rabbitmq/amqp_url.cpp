#include "broker/rabbitmq/amqp_url.h"

#include <charconv>
#include <stdexcept>

namespace herald {
namespace {

[[noreturn]] void bad_url(std::string_view url, const std::string& why) {
  throw std::invalid_argument("invalid RabbitMQ URL '" + std::string(url) + "': " + why +
                              " (expected amqp://user:password@host:port/vhost)");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string unescape(std::string_view url, std::string_view part, const char* what) {
  std::string out;
  out.reserve(part.size());
  for (size_t i = 0; i < part.size(); ++i) {
    if (part[i] != '%') {
      out.push_back(part[i]);
      continue;
    }
    const int hi = i + 2 < part.size() ? hex_value(part[i + 1]) : -1;
    const int lo = i + 2 < part.size() ? hex_value(part[i + 2]) : -1;
    if (hi < 0 || lo < 0) bad_url(url, std::string("bad percent-escape in ") + what);
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace

std::string AmqpUrl::redacted() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string out = "amqp://" + user + "@" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/";
  out += vhost == "/" ? "%2F" : vhost;
  return out;
}

AmqpUrl parse_amqp_url(std::string_view url) {
  constexpr std::string_view scheme = "amqp://";
  if (url.substr(0, 8) == "amqps://") bad_url(url, "TLS (amqps) is not supported");
  if (url.substr(0, scheme.size()) != scheme) bad_url(url, "it must start with amqp://");
  std::string_view rest = url.substr(scheme.size());

  AmqpUrl out;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash + 1);
    if (path.find_first_of("/?#") != std::string_view::npos)
      bad_url(url, "the vhost must be one path segment (write '/' as %2F)");
    if (!path.empty()) out.vhost = unescape(url, path, "vhost");
  }

  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = userinfo.find(':');
    out.user = unescape(url, userinfo.substr(0, colon), "user");
    out.password = colon == std::string_view::npos ? "" : unescape(url, userinfo.substr(colon + 1), "password");
    if (out.user.empty()) bad_url(url, "empty user name");
  }

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) bad_url(url, "unclosed '[' in host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad_url(url, "unexpected text after ']'");
      port_text = after.substr(1);
      if (port_text.empty()) bad_url(url, "empty port");
    }
  } else {
    const size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) bad_url(url, "empty port");
    }
  }
  if (out.host.empty()) bad_url(url, "missing host");

  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535)
      bad_url(url, "port must be a number from 1 to 65535");
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

}  // namespace herald
