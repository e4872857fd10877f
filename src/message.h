#pragma once
// One published message, immutable once built, shared by every subscriber on every
// loop through a shared_ptr: its wire encodings are made once here, at arrival, and
// each transport writes the same bytes to all its connections.
#include <cstdint>
#include <memory>
#include <string>

#include "src/cursor.h"

namespace herald {

struct Message {
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

// Helpers shared by encoders.
void append_json_string(std::string& out, std::string_view s);
void append_http_chunk(std::string& out, std::string_view payload);
void append_ws_frame_header(std::string& out, uint8_t opcode, size_t payload_len);

}  // namespace herald
