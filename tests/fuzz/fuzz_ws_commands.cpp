// libFuzzer target for Herald's WebSocket commands (subscribe, unsubscribe, ping,
// publish; their channels, cursors, tokens and refs) as the real WsSession handles them
// inside an in-process node (fuzz_node.h).
//
// Input: one flag byte, then commands separated by '\n', each sent as one masked text
// frame after a valid opening handshake. Flags: bit 0 runs a heartbeat tick, bit 1
// drains the node afterwards, bit 2 opens with ?channel=chat:a, bit 3 sends the
// commands as one fragmented message per command (two frames) instead of one frame.
// Whatever the commands, the node must answer without crashing and leave nothing
// behind when the client goes away (checked by exchange()).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_node.h"

using namespace herald::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

  std::string wire = "GET /ws";
  if (flags & 4) wire += "?channel=chat:a";
  wire +=
      " HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  while (true) {
    const size_t end = rest.find('\n');
    const std::string_view command = rest.substr(0, end);
    if (flags & 8) {
      const size_t half = command.size() / 2;
      std::string first = client_frame(0x1, command.substr(0, half));
      first[0] = static_cast<char>(first[0] & 0x7F);  // FIN off: a continuation follows
      wire += first + client_frame(0x0, command.substr(half));
    } else {
      wire += client_frame(0x1, command);
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  const std::string answer = exchange(wire, {.tick = (flags & 1) != 0, .drain = (flags & 2) != 0});
  // The handshake was valid: the node must have accepted it.
  if (answer.rfind("HTTP/1.1 101", 0) != 0) std::abort();
  return 0;
}
