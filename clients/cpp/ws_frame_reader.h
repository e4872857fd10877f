#pragma once
// The client side of RFC 6455 framing, next to the server-side codec it reuses
// (transports/websocket/ws_codec.h): the codec's parser requires masked frames, as a
// server must, so reading the server's unmasked frames needs this reader; and client
// frames are the codec's encodings with a mask applied (mask_frame), so the byte
// layout of a header stays defined in one place.
//
// Threads: a ServerFrameReader belongs to one connection's I/O thread; mask_frame is
// pure and may be called from any thread.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "transports/websocket/ws_codec.h"

namespace herald::client::detail {

// Parses server-to-client frames out of a read buffer. Only whole frames are taken,
// so the caller keeps the unconsumed rest (at most one frame header plus a payload
// bounded by max_message) and appends the next read to it. Enforces what RFC 6455
// asks of a client: unmasked frames, no RSV bits (no extension is negotiated), known
// opcodes, unfragmented control frames of at most 125 bytes, coherent fragments,
// valid close payloads and UTF-8 text.
class ServerFrameReader {
 public:
  explicit ServerFrameReader(size_t max_message) : max_message_(max_message) {}

  // Consumes whole frames from the front of `input` until an event completes (Event:
  // `out` holds it, call again with the rest) or too few bytes remain (NeedMore). On
  // Error the reader is done: error() says why, and every later call fails again.
  [[nodiscard]] ws::ParseStatus next(std::string_view& input, ws::Event& out);
  [[nodiscard]] const ws::ProtocolError& error() const { return error_; }

 private:
  ws::ParseStatus fail(uint16_t code, std::string reason);
  [[nodiscard]] ws::ParseStatus take_data(ws::Opcode op, bool fin, std::string_view payload, ws::Event& out);
  [[nodiscard]] ws::ParseStatus take_close(std::string_view payload, ws::Event& out);

  size_t max_message_;
  bool in_message_ = false;
  bool text_ = false;
  std::string message_;
  ws::Utf8Validator utf8_;
  bool failed_ = false;
  ws::ProtocolError error_;
};

// Turns a frame built by the codec's encoders (ws::encode_frame, ws::encode_close:
// unmasked, as a server sends) into the masked form a client must send, with the
// 4-byte `mask` as its masking key.
[[nodiscard]] std::string mask_frame(std::string_view frame, const uint8_t mask[4]);

}  // namespace herald::client::detail
