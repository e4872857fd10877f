// The opening handshake (RFC 6455 section 4.2): checks a client's upgrade request and
// writes the server's answer. Independent of any HTTP library: the HTTP layer copies
// method, version and headers into a HandshakeRequest.
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>

#include "transports/websocket/ws_codec.h"

namespace herald::ws {
namespace {

constexpr std::string_view accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Header names are case-insensitive (RFC 9110 5.1), so lookups compare that way.
std::vector<std::string_view> header_values(const HandshakeRequest& request, std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [key, value] : request.headers) {
    if (iequals(key, name)) values.push_back(trim(value));
  }
  return values;
}

// True if any occurrence of the header holds `token` in its comma-separated list.
// A header may repeat, and "Connection: keep-alive, Upgrade" is the common browser form.
template <typename Match>
bool any_list_item(const HandshakeRequest& request, std::string_view name, Match&& match) {
  for (std::string_view value : header_values(request, name)) {
    while (true) {
      const size_t comma = value.find(',');
      if (match(trim(value.substr(0, comma)))) return true;
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  return false;
}

bool has_token(const HandshakeRequest& request, std::string_view name, std::string_view token) {
  return any_list_item(request, name, [&](std::string_view item) { return iequals(item, token); });
}

// "HTTP/1.1" or any later version; anything unparsable fails.
bool is_http_11_or_later(std::string_view version) {
  if (version.substr(0, 5) != "HTTP/") return false;
  version.remove_prefix(5);
  const size_t dot = version.find('.');
  const std::string_view major = version.substr(0, dot);
  const std::string_view minor = dot == std::string_view::npos ? std::string_view() : version.substr(dot + 1);
  auto number = [](std::string_view digits, int& out) {
    if (digits.empty() || digits.size() > 3) return false;
    out = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    return true;
  };
  int hi = 0;
  int lo = 0;
  if (!number(major, hi)) return false;
  if (dot != std::string_view::npos && !number(minor, lo)) return false;
  return hi > 1 || (hi == 1 && lo >= 1);
}

// A key is valid when it is base64 of exactly 16 bytes: 22 alphabet characters and
// "==" (RFC 6455 4.1: "a randomly selected 16-byte value ... base64-encoded").
bool is_valid_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  return std::all_of(key.begin(), key.begin() + 22, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
  });
}

// Client text echoed in a reason: bounded and stripped of control characters, so a
// reason stays one short line wherever the HTTP layer puts it.
std::string quoted(std::string_view text) {
  std::string out = "'";
  for (char c : text.substr(0, 64)) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7F ? '?' : c);
  if (text.size() > 64) out += "...";
  out += "'";
  return out;
}

HandshakeReject reject(int status, std::string reason) { return HandshakeReject{status, std::move(reason), {}}; }

const char* status_text(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    default: return "Error";
  }
}

}  // namespace

std::string compute_accept_key(std::string_view client_key) {
  std::string joined;
  joined.reserve(client_key.size() + accept_guid.size());
  joined.append(client_key);
  joined.append(accept_guid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(n));
}

HandshakeResult check_handshake(const HandshakeRequest& request, const HandshakePolicy& policy) {
  if (request.method != "GET") {
    HandshakeReject r = reject(405, "WebSocket connections are opened with GET");
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  if (!is_http_11_or_later(request.version)) {
    return reject(400, "WebSocket needs HTTP/1.1 or later, got " + quoted(request.version));
  }
  if (header_values(request, "Host").size() != 1) return reject(400, "exactly one Host header is required");
  if (!has_token(request, "Upgrade", "websocket")) {
    return reject(400, "this endpoint speaks WebSocket only: send 'Upgrade: websocket'");
  }
  if (!has_token(request, "Connection", "Upgrade")) {
    return reject(400, "the Connection header must include 'Upgrade'");
  }
  // Checked before the key: a client of another version may format its key otherwise,
  // and what it needs to hear is the version this server speaks.
  const auto versions = header_values(request, "Sec-WebSocket-Version");
  if (versions.size() != 1 || versions.front() != "13") {
    HandshakeReject r = reject(426, "unsupported WebSocket version: this server speaks version 13");
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    return r;
  }
  const auto keys = header_values(request, "Sec-WebSocket-Key");
  if (keys.size() != 1 || !is_valid_key(keys.front())) {
    return reject(400, "Sec-WebSocket-Key must be one base64-encoded 16-byte value");
  }
  if (!policy.allowed_origins.empty()) {
    const auto origins = header_values(request, "Origin");
    if (origins.size() > 1) return reject(403, "more than one Origin header");
    if (origins.size() == 1) {
      const bool allowed = std::any_of(policy.allowed_origins.begin(), policy.allowed_origins.end(),
                                       [&](const std::string& o) { return iequals(o, origins.front()); });
      if (!allowed) return reject(403, "origin " + quoted(origins.front()) + " is not allowed");
    }
  }
  HandshakeAccept accept;
  accept.accept_key = compute_accept_key(keys.front());
  // Subprotocol names are compared exactly (RFC 6455 11.3.4 makes them case-sensitive).
  if (any_list_item(request, "Sec-WebSocket-Protocol",
                    [](std::string_view item) { return item == herald_subprotocol; })) {
    accept.subprotocol = std::string(herald_subprotocol);
  }
  return accept;
}

std::string build_accept_response(const HandshakeAccept& accept) {
  std::string out;
  out.reserve(160);
  out += "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  out += accept.accept_key;
  out += "\r\n";
  if (!accept.subprotocol.empty()) {
    out += "Sec-WebSocket-Protocol: ";
    out += accept.subprotocol;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

std::string build_reject_response(const HandshakeReject& reject) {
  const std::string body = reject.reason + "\n";
  std::string out = "HTTP/1.1 " + std::to_string(reject.status) + " " + status_text(reject.status) + "\r\n";
  for (const auto& [name, value] : reject.headers) out += name + ": " + value + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
  return out;
}

}  // namespace herald::ws
