// Reading server frames and masking client frames (RFC 6455 section 5).
#include "clients/cpp/ws_frame_reader.h"

namespace herald::client::detail {
namespace {

bool is_control(uint8_t op) { return (op & 0x8) != 0; }

// Header length (2, 4 or 10 bytes, without a mask) given its second byte.
size_t header_size(uint8_t second) {
  const uint8_t len7 = second & 0x7F;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
}

uint64_t payload_size(std::string_view header) {
  const uint8_t len7 = static_cast<uint8_t>(header[1]) & 0x7F;
  if (len7 < 126) return len7;
  uint64_t len = 0;
  for (size_t i = 2; i < header.size(); ++i) len = (len << 8) | static_cast<uint8_t>(header[i]);
  return len;
}

}  // namespace

ws::ParseStatus ServerFrameReader::fail(uint16_t code, std::string reason) {
  failed_ = true;
  error_.close_code = code;
  error_.reason = std::move(reason);
  std::string().swap(message_);
  return ws::ParseStatus::Error;
}

ws::ParseStatus ServerFrameReader::next(std::string_view& input, ws::Event& out) {
  if (failed_) return ws::ParseStatus::Error;
  while (input.size() >= 2) {
    const auto first = static_cast<uint8_t>(input[0]);
    const auto second = static_cast<uint8_t>(input[1]);
    const uint8_t op = first & 0x0F;
    const bool fin = (first & 0x80) != 0;
    if (first & 0x70) return fail(ws::close_code::protocol_error, "reserved bits set but no extension was negotiated");
    if (second & 0x80) return fail(ws::close_code::protocol_error, "server frames must not be masked");
    const bool known = op <= 0x2 || (op >= 0x8 && op <= 0xA);
    if (!known) return fail(ws::close_code::protocol_error, "unknown opcode " + std::to_string(op));
    const size_t header = header_size(second);
    if (input.size() < header) break;
    const uint64_t len = payload_size(input.substr(0, header));
    if (is_control(op) && (!fin || len > 125))
      return fail(ws::close_code::protocol_error, "control frames are unfragmented and at most 125 bytes");
    // Checked before the payload arrives, so a huge length never makes us buffer it.
    if (!is_control(op) && (len > max_message_ || message_.size() + len > max_message_))
      return fail(ws::close_code::message_too_big,
                  "server message exceeds the limit of " + std::to_string(max_message_) + " bytes");
    if (input.size() - header < len) break;
    const std::string_view payload = input.substr(header, static_cast<size_t>(len));
    input.remove_prefix(header + static_cast<size_t>(len));

    switch (static_cast<ws::Opcode>(op)) {
      case ws::Opcode::Ping:
      case ws::Opcode::Pong:
        out.kind = op == 0x9 ? ws::EventKind::Ping : ws::EventKind::Pong;
        out.payload.assign(payload);
        out.close_code = ws::close_code::no_status;
        return ws::ParseStatus::Event;
      case ws::Opcode::Close:
        return take_close(payload, out);
      default:
        if (take_data(static_cast<ws::Opcode>(op), fin, payload, out) != ws::ParseStatus::NeedMore)
          return failed_ ? ws::ParseStatus::Error : ws::ParseStatus::Event;
    }
  }
  return ws::ParseStatus::NeedMore;
}

ws::ParseStatus ServerFrameReader::take_data(ws::Opcode op, bool fin, std::string_view payload, ws::Event& out) {
  if (op == ws::Opcode::Continuation) {
    if (!in_message_) return fail(ws::close_code::protocol_error, "continuation frame with no message to continue");
  } else {
    if (in_message_) return fail(ws::close_code::protocol_error, "new message while a fragmented one is open");
    in_message_ = true;
    text_ = op == ws::Opcode::Text;
    message_.clear();
    utf8_.reset();
  }
  message_.append(payload);
  if (text_ && !utf8_.feed(payload)) return fail(ws::close_code::invalid_payload, "text message is not valid UTF-8");
  if (!fin) return ws::ParseStatus::NeedMore;
  if (text_ && !utf8_.finish())
    return fail(ws::close_code::invalid_payload, "text message ends inside a UTF-8 sequence");
  in_message_ = false;
  out.kind = text_ ? ws::EventKind::Text : ws::EventKind::Binary;
  out.close_code = ws::close_code::no_status;
  out.payload.swap(message_);
  message_.clear();
  return ws::ParseStatus::Event;
}

ws::ParseStatus ServerFrameReader::take_close(std::string_view payload, ws::Event& out) {
  out.kind = ws::EventKind::Close;
  out.close_code = ws::close_code::no_status;
  out.payload.clear();
  if (payload.size() == 1) return fail(ws::close_code::protocol_error, "close payload of 1 byte (a code takes 2)");
  if (payload.size() >= 2) {
    const auto code = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]));
    if (!ws::is_valid_close_code(code))
      return fail(ws::close_code::protocol_error, "close code " + std::to_string(code) + " is not valid on the wire");
    if (!ws::is_valid_utf8(payload.substr(2)))
      return fail(ws::close_code::invalid_payload, "close reason is not valid UTF-8");
    out.close_code = code;
    out.payload.assign(payload.substr(2));
  }
  return ws::ParseStatus::Event;
}

std::string mask_frame(std::string_view frame, const uint8_t mask[4]) {
  const size_t header = header_size(static_cast<uint8_t>(frame[1]));
  std::string out;
  out.reserve(frame.size() + 4);
  out.append(frame.substr(0, header));
  out[1] = static_cast<char>(out[1] | 0x80);
  out.append(reinterpret_cast<const char*>(mask), 4);
  const std::string_view payload = frame.substr(header);
  for (size_t i = 0; i < payload.size(); ++i) out.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
  return out;
}

}  // namespace herald::client::detail
