// The opening handshake: RFC 6455 4.2.1 checks with Herald's status choices, the
// accept key, subprotocol choice, refused extensions and the raw responses.
#include <catch2/catch.hpp>

#include <algorithm>

#include "transports/websocket/ws_codec.h"

using namespace herald::ws;

namespace {

HandshakeRequest good_request() {
  HandshakeRequest r;
  r.method = "GET";
  r.version = "HTTP/1.1";
  r.headers = {{"Host", "server.example.com"},
               {"Upgrade", "websocket"},
               {"Connection", "Upgrade"},
               {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
               {"Origin", "http://example.com"},
               {"Sec-WebSocket-Version", "13"}};
  return r;
}

HandshakeRequest without(HandshakeRequest r, std::string_view name) {
  r.headers.erase(std::remove_if(r.headers.begin(), r.headers.end(), [&](const Header& h) { return h.first == name; }),
                  r.headers.end());
  return r;
}

HandshakeRequest with(HandshakeRequest r, std::string_view name, std::string value) {
  r = without(std::move(r), name);
  r.headers.emplace_back(std::string(name), std::move(value));
  return r;
}

HandshakeAccept accepted(const HandshakeRequest& r, const HandshakePolicy& p = {}) {
  const HandshakeResult result = check_handshake(r, p);
  if (const auto* rej = std::get_if<HandshakeReject>(&result)) FAIL("rejected " << rej->status << ": " << rej->reason);
  return std::get<HandshakeAccept>(result);
}

HandshakeReject rejected(const HandshakeRequest& r, const HandshakePolicy& p = {}) {
  const HandshakeResult result = check_handshake(r, p);
  REQUIRE(std::holds_alternative<HandshakeReject>(result));
  const auto& rej = std::get<HandshakeReject>(result);
  CHECK_FALSE(rej.reason.empty());
  return rej;
}

}  // namespace

TEST_CASE("accept key of RFC 6455 section 1.3", "[handshake]") {
  CHECK(compute_accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("a valid request is accepted and answered with 101", "[handshake]") {
  const auto a = accepted(good_request());
  CHECK(a.accept_key == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(a.subprotocol.empty());
  CHECK(build_accept_response(a) ==
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
}

TEST_CASE("header names and tokens are case-insensitive, lists are split", "[handshake]") {
  HandshakeRequest r = good_request();
  for (auto& h : r.headers) std::transform(h.first.begin(), h.first.end(), h.first.begin(), ::tolower);
  r = with(r, "upgrade", "h2c, WebSocket");
  r = with(r, "connection", "keep-alive,  UPGRADE ");
  accepted(r);
  // A token may also come in a repeated header.
  r = without(r, "connection");
  r.headers.emplace_back("Connection", "keep-alive");
  r.headers.emplace_back("Connection", "upgrade");
  accepted(r);
  accepted(with(good_request(), "Sec-WebSocket-Version", " 13 "));
}

TEST_CASE("another method gets 405 with Allow: GET", "[handshake]") {
  for (const char* method : {"POST", "PUT", "HEAD", "get"}) {
    HandshakeRequest r = good_request();
    r.method = method;
    const auto rej = rejected(r);
    CHECK(rej.status == 405);
    CHECK(rej.headers == std::vector<Header>{{"Allow", "GET"}});
  }
}

TEST_CASE("HTTP version must be 1.1 or later", "[handshake]") {
  for (const char* v : {"HTTP/1.0", "HTTP/0.9", "", "HTTP/", "HTTP/1.x", "http/1.1", "HTTP/1.1.1x"}) {
    HandshakeRequest r = good_request();
    r.version = v;
    INFO("version '" << v << "'");
    CHECK(rejected(r).status == 400);
  }
  for (const char* v : {"HTTP/1.1", "HTTP/1.2", "HTTP/2", "HTTP/2.0"}) {
    HandshakeRequest r = good_request();
    r.version = v;
    accepted(r);
  }
}

TEST_CASE("Host is required, once", "[handshake]") {
  CHECK(rejected(without(good_request(), "Host")).status == 400);
  HandshakeRequest r = good_request();
  r.headers.emplace_back("host", "other.example.com");
  CHECK(rejected(r).status == 400);
}

TEST_CASE("Upgrade must name websocket", "[handshake]") {
  CHECK(rejected(without(good_request(), "Upgrade")).status == 400);
  CHECK(rejected(with(good_request(), "Upgrade", "h2c")).status == 400);
  CHECK(rejected(with(good_request(), "Upgrade", "websockets")).status == 400);
  CHECK(rejected(with(good_request(), "Upgrade", "")).status == 400);
}

TEST_CASE("Connection must include Upgrade", "[handshake]") {
  CHECK(rejected(without(good_request(), "Connection")).status == 400);
  CHECK(rejected(with(good_request(), "Connection", "keep-alive")).status == 400);
  CHECK(rejected(with(good_request(), "Connection", "Upgraded, close")).status == 400);
}

TEST_CASE("another WebSocket version gets 426 naming version 13", "[handshake]") {
  for (const char* v : {"8", "7", "12", "14", "13, 8", "", "thirteen"}) {
    INFO("version '" << v << "'");
    const auto rej = rejected(with(good_request(), "Sec-WebSocket-Version", v));
    CHECK(rej.status == 426);
    CHECK(rej.headers == std::vector<Header>{{"Sec-WebSocket-Version", "13"}});
  }
  CHECK(rejected(without(good_request(), "Sec-WebSocket-Version")).status == 426);
}

TEST_CASE("Sec-WebSocket-Key must be base64 of 16 bytes", "[handshake]") {
  CHECK(rejected(without(good_request(), "Sec-WebSocket-Key")).status == 400);
  for (const char* key : {"", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=", "AAAAAAAAAAAAAAAAAAAA",
                          "AAAAAAAAAAAAAAAAAAAAAAAA", "dGhlIHNhbXBsZSBub25j====", "dGhlIHNhbXBsZSBub25jZ!==",
                          "AAAAAAAAAAAAAAAAAAAAAAA=", "dGhlIHNhbXBsZSBub25jZQ==AAAA"}) {
    INFO("key '" << key << "'");
    CHECK(rejected(with(good_request(), "Sec-WebSocket-Key", key)).status == 400);
  }
  HandshakeRequest twice = good_request();
  twice.headers.emplace_back("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA==");
  CHECK(rejected(twice).status == 400);
  const auto a = accepted(with(good_request(), "Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA=="));
  CHECK(a.accept_key == compute_accept_key("AQIDBAUGBwgJCgsMDQ4PEA=="));
}

TEST_CASE("origin allow-list", "[handshake]") {
  HandshakePolicy open;
  accepted(with(good_request(), "Origin", "https://evil.example"), open);
  HandshakePolicy strict;
  strict.allowed_origins = {"https://app.example.com", "http://localhost:8080"};
  accepted(with(good_request(), "Origin", "https://app.example.com"), strict);
  accepted(with(good_request(), "Origin", "HTTPS://APP.example.com"), strict);
  accepted(with(good_request(), "Origin", "http://localhost:8080"), strict);
  CHECK(rejected(with(good_request(), "Origin", "https://evil.example"), strict).status == 403);
  CHECK(rejected(with(good_request(), "Origin", "https://app.example.com.evil"), strict).status == 403);
  CHECK(rejected(with(good_request(), "Origin", "null"), strict).status == 403);
  accepted(without(good_request(), "Origin"), strict);  // non-browser client
}

TEST_CASE("subprotocol herald.v1 is chosen only when offered", "[handshake]") {
  CHECK(accepted(with(good_request(), "Sec-WebSocket-Protocol", "herald.v1")).subprotocol == "herald.v1");
  CHECK(accepted(with(good_request(), "Sec-WebSocket-Protocol", "chat, herald.v1")).subprotocol == "herald.v1");
  CHECK(accepted(with(good_request(), "Sec-WebSocket-Protocol", "chat")).subprotocol.empty());
  CHECK(accepted(with(good_request(), "Sec-WebSocket-Protocol", "HERALD.V1")).subprotocol.empty());
  CHECK(accepted(with(good_request(), "Sec-WebSocket-Protocol", "herald.v10")).subprotocol.empty());
  HandshakeRequest r = with(good_request(), "Sec-WebSocket-Protocol", "chat");
  r.headers.emplace_back("sec-websocket-protocol", "herald.v1");
  const auto a = accepted(r);
  CHECK(a.subprotocol == "herald.v1");
  const std::string response = build_accept_response(a);
  CHECK(response.find("\r\nSec-WebSocket-Protocol: herald.v1\r\n") != std::string::npos);
  CHECK(response.substr(response.size() - 4) == "\r\n\r\n");
}

TEST_CASE("permessage-deflate is refused by omission", "[handshake]") {
  const auto a = accepted(
      with(good_request(), "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"));
  CHECK(build_accept_response(a).find("Extensions") == std::string::npos);
}

TEST_CASE("reject responses are complete HTTP", "[handshake]") {
  HandshakeRequest r = good_request();
  r.method = "POST";
  const std::string text = build_reject_response(rejected(r));
  CHECK(text.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
  CHECK(text.find("\r\nAllow: GET\r\n") != std::string::npos);
  CHECK(text.find("\r\nConnection: close\r\n") != std::string::npos);
  const size_t body = text.find("\r\n\r\n") + 4;
  const std::string length = "Content-Length: " + std::to_string(text.size() - body) + "\r\n";
  CHECK(text.find(length) != std::string::npos);
  const auto rej = rejected(with(good_request(), "Sec-WebSocket-Version", "8"));
  CHECK(build_reject_response(rej).find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
}

TEST_CASE("client text echoed in a reason is bounded and printable", "[handshake]") {
  HandshakePolicy strict;
  strict.allowed_origins = {"https://app.example.com"};
  const auto rej = rejected(with(good_request(), "Origin", "https://x\r\nSet-Cookie: a=b" + std::string(200, 'x')), strict);
  CHECK(rej.reason.find('\r') == std::string::npos);
  CHECK(rej.reason.size() < 120);
}
