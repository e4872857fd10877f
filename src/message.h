#pragma once
// One published message, immutable once built, shared by every subscriber on every
// loop through a shared_ptr: its wire encodings are made once here, at arrival, and
// each transport writes the same bytes to all its connections.
#include <cstdint>
#include <memory>
#include <string>

#include "src/cursor.h"

namespace herald {

// Log messages carry a cursor and are replayed from history; presence events (a user
// joined or left a channel) have none, are never stored and are not replayed.
enum class MessageKind : uint8_t { Log, Join, Leave };

struct Message {
  MessageKind kind = MessageKind::Log;
  std::string channel;
  Cursor cursor;
  int64_t ts_ms = 0;      // publish time, unix ms (set by the publishing node)
  std::string data;       // the `data` value as compact JSON text, validated at publish

  // Encodings, filled by build_message():
  std::string envelope;   // {"channel":..,"id":..,"ts":..,"data":..}
  std::string sse_chunk;  // one HTTP chunk holding the SSE event (id/event/data)
  std::string ws_frame;   // one unmasked WebSocket text frame: {"op":"message",...envelope}
};

using MessagePtr = std::shared_ptr<const Message>;

[[nodiscard]] MessagePtr build_message(std::string channel, Cursor cursor, int64_t ts_ms, std::string data);
// A presence event: `envelope` is {"channel":..,"user":..,"info":..} (info: the
// token's compact JSON, null when empty); SSE `event: join|leave` without an id (it is
// no resume point); WebSocket {"op":"join"|"leave",...}.
[[nodiscard]] MessagePtr build_presence_event(bool join, std::string channel, const std::string& user,
                                              const std::string& info);

// Helpers shared by encoders.
void append_json_string(std::string& out, std::string_view s);
void append_http_chunk(std::string& out, std::string_view payload);
void append_ws_frame_header(std::string& out, uint8_t opcode, size_t payload_len);

}  // namespace herald
