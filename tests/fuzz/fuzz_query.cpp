// libFuzzer target for the query strings of the streaming endpoints (channels,
// cursors, tokens, timeouts, JSONP callbacks) through the real routes inside an
// in-process node (fuzz_node.h).
//
// Input: one byte choosing the endpoint (0: /sse, 1: /poll, 2: /ws with a valid
// handshake, 3: /sse with the rest's first line as Last-Event-ID), then the query.
// Bytes that cannot appear in a request target are percent-encoded, so the decoded
// parameters may hold anything. Every answer must start with an HTTP status line (a
// held long-poll says nothing), and nothing may be left behind when the client goes
// away (checked by exchange()).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_node.h"

using namespace herald::fuzz;

namespace {

std::string target_bytes(std::string_view raw) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : raw) {
    if (c > 0x20 && c < 0x7F && c != '#') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int endpoint = data[0] % 4;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string header;
  if (endpoint == 3) {
    const size_t end = rest.find('\n');
    for (unsigned char c : rest.substr(0, end))
      if (c >= 0x20 && c != 0x7F) header.push_back(static_cast<char>(c));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
  }
  static const char* paths[] = {"/sse", "/poll", "/ws", "/sse"};
  std::string wire = std::string("GET ") + paths[endpoint] + "?" + target_bytes(rest) + " HTTP/1.1\r\nHost: fuzz\r\n";
  if (endpoint == 2)
    wire += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n";
  if (endpoint == 3) wire += "Last-Event-ID: " + header + "\r\n";
  wire += "\r\n";
  const std::string answer = exchange(wire, {.tick = (data[0] & 4) != 0, .drain = (data[0] & 8) != 0});
  // A long-poll with nothing to deliver is held, silently, until the client leaves.
  if (answer.empty() && endpoint == 1 && !(data[0] & 8)) return 0;
  if (answer.rfind("HTTP/1.1 ", 0) != 0) std::abort();
  return 0;
}
