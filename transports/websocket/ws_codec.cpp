// Frame parsing of client bytes and encoding of server frames (RFC 6455 section 5).
// Every rule is checked at the earliest byte that decides it, so a broken frame is
// refused before its payload is read and invalid UTF-8 before its message ends.
#include <algorithm>
#include <cstring>

#include "transports/websocket/ws_codec.h"

namespace herald::ws {
namespace {

bool is_control(Opcode op) { return (static_cast<uint8_t>(op) & 0x8) != 0; }

bool is_known_opcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

// XORs `data` with the 4-byte mask starting at mask offset `pos`, a word at a time:
// unmasking touches every payload byte, so it is the parser's inner loop.
void unmask(char* data, size_t len, const uint8_t mask[4], uint8_t pos) {
  uint8_t rotated[8];
  for (int i = 0; i < 8; ++i) rotated[i] = mask[(pos + i) & 3];
  uint64_t word_mask;
  std::memcpy(&word_mask, rotated, sizeof word_mask);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, sizeof word);
    word ^= word_mask;
    std::memcpy(data + i, &word, sizeof word);
  }
  for (; i < len; ++i) data[i] = static_cast<char>(data[i] ^ rotated[i & 7]);
}

}  // namespace

bool is_valid_close_code(uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;  // registered (3xxx) and private (4xxx)
  if (code >= 1000 && code <= 1003) return true;
  return code >= 1007 && code <= 1014;
}

// ---------------------------------------------------------------------------------
// FrameParser

ParseStatus FrameParser::fail(uint16_t code, std::string reason) {
  failed_ = true;
  error_.close_code = code;
  error_.reason = std::move(reason);
  // The buffers may be large; a failed connection only waits to be closed.
  std::string().swap(message_);
  std::string().swap(control_);
  return ParseStatus::Error;
}

bool FrameParser::check_first_byte(uint8_t b) {
  fin_ = (b & 0x80) != 0;
  const uint8_t op = b & 0x0F;
  if (b & 0x70) {
    fail(close_code::protocol_error, "reserved bits set but no extension was negotiated");
    return false;
  }
  if (!is_known_opcode(op)) {
    fail(close_code::protocol_error, "unknown opcode " + std::to_string(op));
    return false;
  }
  opcode_ = static_cast<Opcode>(op);
  if (is_control(opcode_)) {
    if (!fin_) {
      fail(close_code::protocol_error, "control frames must not be fragmented");
      return false;
    }
  } else if (opcode_ == Opcode::Continuation) {
    if (!in_message_) {
      fail(close_code::protocol_error, "continuation frame with no message to continue");
      return false;
    }
  } else if (in_message_) {
    fail(close_code::protocol_error, "new data frame while a fragmented message is still open");
    return false;
  }
  return true;
}

bool FrameParser::check_second_byte(uint8_t b) {
  if (!(b & 0x80)) {
    fail(close_code::protocol_error, "client frames must be masked");
    return false;
  }
  const uint8_t len7 = b & 0x7F;
  if (is_control(opcode_)) {
    if (len7 > 125) {
      fail(close_code::protocol_error, "control frame payload over 125 bytes");
      return false;
    }
    if (opcode_ == Opcode::Close && len7 == 1) {
      fail(close_code::protocol_error, "close payload of 1 byte (a code takes 2)");
      return false;
    }
  }
  header_need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
  return true;
}

// Called with the header complete: decodes the length and mask and opens the message.
bool FrameParser::start_payload() {
  const uint8_t len7 = header_[1] & 0x7F;
  uint64_t len = len7;
  size_t pos = 2;
  if (len7 == 126) {
    len = (uint64_t{header_[2]} << 8) | header_[3];
    pos = 4;
  } else if (len7 == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | header_[2 + i];
    pos = 10;
    if (len >> 63) {
      fail(close_code::protocol_error, "64-bit payload length with the most significant bit set");
      return false;
    }
  }
  // Non-minimal length encodings are legal (RFC 6455 5.2 says "minimal number of
  // bytes MUST be used" of the sender, but gives the receiver no duty to check).
  std::memcpy(mask_, header_ + pos, 4);
  mask_pos_ = 0;
  remaining_ = len;
  if (!is_control(opcode_)) {
    const size_t held = opcode_ == Opcode::Continuation ? message_.size() : 0;
    if (len > max_message_ || held + len > max_message_) {
      fail(close_code::message_too_big, "message exceeds the limit of " + std::to_string(max_message_) + " bytes");
      return false;
    }
    if (opcode_ != Opcode::Continuation) {
      in_message_ = true;
      message_is_text_ = opcode_ == Opcode::Text;
      message_.clear();
      utf8_.reset();
    }
  } else {
    control_.clear();
  }
  in_payload_ = true;
  return true;
}

void FrameParser::take_payload(std::string_view& input, std::string& dest) {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size()));
  const size_t old = dest.size();
  dest.append(input.data(), n);
  unmask(dest.data() + old, n, mask_, mask_pos_);
  mask_pos_ = static_cast<uint8_t>((mask_pos_ + n) & 3);
  remaining_ -= n;
  input.remove_prefix(n);
}

ParseStatus FrameParser::finish_close(Event& out) {
  uint16_t code = close_code::no_status;
  std::string_view reason;
  if (!control_.empty()) {  // a length of 1 was refused in the header
    code = static_cast<uint16_t>((static_cast<uint8_t>(control_[0]) << 8) | static_cast<uint8_t>(control_[1]));
    if (!is_valid_close_code(code)) {
      return fail(close_code::protocol_error, "close code " + std::to_string(code) + " is not valid on the wire");
    }
    reason = std::string_view(control_).substr(2);
    if (!is_valid_utf8(reason)) return fail(close_code::invalid_payload, "close reason is not valid UTF-8");
  }
  out.kind = EventKind::Close;
  out.close_code = code;
  out.payload.assign(reason);
  closed_ = true;
  // The half-received message is dropped: the client ended the conversation.
  std::string().swap(message_);
  return ParseStatus::Event;
}

ParseStatus FrameParser::finish_frame(Event& out) {
  in_payload_ = false;
  header_len_ = 0;
  header_need_ = 2;
  switch (opcode_) {
    case Opcode::Close:
      return finish_close(out);
    case Opcode::Ping:
    case Opcode::Pong:
      out.kind = opcode_ == Opcode::Ping ? EventKind::Ping : EventKind::Pong;
      out.close_code = close_code::no_status;
      out.payload.swap(control_);
      control_.clear();
      return ParseStatus::Event;
    default:
      break;
  }
  if (!fin_) return ParseStatus::NeedMore;  // more fragments follow
  if (message_is_text_ && !utf8_.finish()) {
    return fail(close_code::invalid_payload, "text message ends inside a UTF-8 sequence");
  }
  in_message_ = false;
  out.kind = message_is_text_ ? EventKind::Text : EventKind::Binary;
  out.close_code = close_code::no_status;
  // Swapping hands the caller the message without a copy and recycles its old buffer.
  out.payload.swap(message_);
  message_.clear();
  return ParseStatus::Event;
}

ParseStatus FrameParser::parse(std::string_view& input, Event& out) {
  if (failed_) return ParseStatus::Error;
  if (closed_) {
    input.remove_prefix(input.size());
    return ParseStatus::NeedMore;
  }
  while (true) {
    if (!in_payload_) {
      while (header_len_ < header_need_ && !input.empty()) {
        const auto b = static_cast<uint8_t>(input.front());
        input.remove_prefix(1);
        header_[header_len_++] = b;
        if (header_len_ == 1 && !check_first_byte(b)) return ParseStatus::Error;
        if (header_len_ == 2 && !check_second_byte(b)) return ParseStatus::Error;
      }
      if (header_len_ < header_need_) return ParseStatus::NeedMore;
      if (!start_payload()) return ParseStatus::Error;
    }
    if (remaining_ > 0) {
      if (input.empty()) return ParseStatus::NeedMore;
      if (is_control(opcode_)) {
        take_payload(input, control_);
      } else {
        const size_t old = message_.size();
        take_payload(input, message_);
        if (message_is_text_ && !utf8_.feed(std::string_view(message_).substr(old))) {
          return fail(close_code::invalid_payload, "text message is not valid UTF-8");
        }
      }
      if (remaining_ > 0) return ParseStatus::NeedMore;
    }
    const ParseStatus status = finish_frame(out);
    if (status != ParseStatus::NeedMore) return status;
    // A non-final fragment ended: go on with the next frame in the input.
  }
}

// ---------------------------------------------------------------------------------
// Encoders

void append_frame(std::string& out, Opcode opcode, std::string_view payload) {
  append_frame_header(out, opcode, payload.size());
  out.append(payload);
}

std::string encode_frame(Opcode opcode, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 10);
  append_frame(out, opcode, payload);
  return out;
}

std::string encode_close(uint16_t code, std::string_view reason) {
  if (code == close_code::no_status) return encode_frame(Opcode::Close, {});
  constexpr size_t max_reason = 125 - 2;
  if (reason.size() > max_reason) {
    size_t cut = max_reason;
    // Back up over continuation bytes so the trimmed reason stays valid UTF-8.
    while (cut > 0 && (static_cast<uint8_t>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  std::string payload;
  payload.reserve(2 + reason.size());
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason);
  return encode_frame(Opcode::Close, payload);
}

}  // namespace herald::ws
