#pragma once
// RFC 6455 for the server side of Herald's WebSocket transport, as pure logic: the
// parser of client bytes, a streaming UTF-8 validator, encoders for server frames and
// the opening-handshake check. No I/O, no threads and no HTTP library live here, so
// every rule is unit-tested and fuzzed on its own and the transport glue only moves
// bytes between a socket and these functions.
//
// Threads: nothing here is shared. A FrameParser or Utf8Validator belongs to one
// connection and is used only by the loop that owns that connection; the free
// functions are pure and may be called from any thread.
// Failures are returned (status enums, result variants), never thrown.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "src/message.h"

namespace herald::ws {

enum class Opcode : uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA,
};

// Close status codes Herald sends or interprets (RFC 6455 7.4.1).
namespace close_code {
inline constexpr uint16_t normal = 1000;
inline constexpr uint16_t going_away = 1001;
inline constexpr uint16_t protocol_error = 1002;
inline constexpr uint16_t unsupported_data = 1003;
inline constexpr uint16_t no_status = 1005;  // never on the wire: "the peer gave no code"
inline constexpr uint16_t invalid_payload = 1007;
inline constexpr uint16_t policy_violation = 1008;
inline constexpr uint16_t message_too_big = 1009;
inline constexpr uint16_t internal_error = 1011;
}  // namespace close_code

// True for the codes a peer may put in a Close frame: 1000-1003, 1007-1014 and
// 3000-4999. 1004-1006 and 1015 are reserved for local use, the rest unassigned.
[[nodiscard]] bool is_valid_close_code(uint16_t code);

// ---------------------------------------------------------------------------------
// UTF-8

// Validates UTF-8 fed in arbitrary pieces, so a text message split across frames or
// TCP reads is checked as it arrives and a bad byte fails at once instead of after
// the whole message was buffered. Rejects overlong forms, surrogates (U+D800-DFFF)
// and code points above U+10FFFF; a sequence cut by a piece boundary is simply
// continued by the next piece.
class Utf8Validator {
 public:
  // Checks the next piece. Returns false once any byte so far was invalid; the
  // failure is sticky until reset().
  [[nodiscard]] bool feed(std::string_view bytes);
  // True when everything fed is valid and no sequence is left open: call at the end
  // of a message, where a truncated sequence is an error.
  [[nodiscard]] bool finish() const { return !failed_ && pending_ == 0; }
  [[nodiscard]] bool failed() const { return failed_; }
  void reset();

 private:
  uint8_t pending_ = 0;  // continuation bytes still expected
  uint8_t low_ = 0x80;   // bounds of the next continuation byte; the first one after
  uint8_t high_ = 0xBF;  // E0, ED, F0 and F4 is narrowed to exclude the invalid forms
  bool failed_ = false;
};

// One-shot form of Utf8Validator for a complete text.
[[nodiscard]] bool is_valid_utf8(std::string_view text);

// ---------------------------------------------------------------------------------
// Client-to-server frames

enum class EventKind : uint8_t { Text, Binary, Ping, Pong, Close };

struct Event {
  EventKind kind = EventKind::Text;
  // Text/Binary: the whole message, fragments joined (Text is valid UTF-8).
  // Ping/Pong: the control payload (at most 125 bytes). Close: the reason (UTF-8).
  std::string payload;
  // Close only: the peer's code, or close_code::no_status when it sent none.
  uint16_t close_code = close_code::no_status;
};

// Why the client's bytes broke the protocol: the code and reason to send in the
// server's Close frame before dropping the connection.
struct ProtocolError {
  uint16_t close_code = 0;
  std::string reason;
};

enum class ParseStatus : uint8_t {
  NeedMore,  // all input consumed, no complete event yet
  Event,     // `out` holds an event; input may still hold bytes for more
  Error,     // the client broke the protocol: see error(); the parser is done
};

inline constexpr size_t default_max_message_size = 1 << 20;

// Incremental parser of client-to-server bytes. Feed whatever the socket gave, split
// anywhere; it buffers only the current message (bounded by max_message_size) and at
// most 14 header bytes. It enforces exactly what RFC 6455 requires of a server with
// no extension negotiated: masked frames, no RSV bits, known opcodes, unfragmented
// control frames of at most 125 bytes, coherent fragmentation, valid close payloads
// and UTF-8 text (checked as bytes arrive).
class FrameParser {
 public:
  explicit FrameParser(size_t max_message_size = default_max_message_size) : max_message_(max_message_size) {}

  // Consumes bytes from the front of `input` until one event is complete or the input
  // runs out. On Event, `out` is overwritten and `input` holds the unconsumed rest:
  // call again with it. On NeedMore, `input` is empty. On Error, the parser refuses
  // any further input (every later call returns Error again, consuming nothing).
  // After a Close event the conversation is over: later bytes are consumed and
  // discarded (RFC 6455 5.5.1: nothing follows a Close) and NeedMore is returned.
  [[nodiscard]] ParseStatus parse(std::string_view& input, Event& out);

  [[nodiscard]] bool failed() const { return failed_; }
  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] const ProtocolError& error() const { return error_; }
  [[nodiscard]] size_t max_message_size() const { return max_message_; }

 private:
  ParseStatus fail(uint16_t code, std::string reason);
  [[nodiscard]] bool check_first_byte(uint8_t b);
  [[nodiscard]] bool check_second_byte(uint8_t b);
  [[nodiscard]] bool start_payload();
  void take_payload(std::string_view& input, std::string& dest);
  [[nodiscard]] ParseStatus finish_frame(Event& out);
  [[nodiscard]] ParseStatus finish_close(Event& out);

  size_t max_message_;
  uint8_t header_[14] = {};
  uint8_t header_len_ = 0;
  uint8_t header_need_ = 2;  // grows to 2 + extended length + 4 once byte 2 is seen
  bool in_payload_ = false;
  bool fin_ = false;
  Opcode opcode_ = Opcode::Continuation;
  uint64_t remaining_ = 0;  // payload bytes of the current frame not yet received
  uint8_t mask_[4] = {};
  uint8_t mask_pos_ = 0;  // offset of the next payload byte modulo 4

  bool in_message_ = false;  // a Text/Binary message was started and not finished
  bool message_is_text_ = false;
  std::string message_;  // unmasked data of the open message
  std::string control_;  // unmasked payload of the current control frame
  Utf8Validator utf8_;

  bool failed_ = false;
  bool closed_ = false;
  ProtocolError error_;
};

// ---------------------------------------------------------------------------------
// Server-to-client frames (unmasked, FIN set: the server never fragments)

// Appends the header of a frame of `payload_len` bytes; the payload follows. The
// byte layout lives once in the core (src/message.h), shared with Message::ws_frame.
inline void append_frame_header(std::string& out, Opcode opcode, size_t payload_len) {
  herald::append_ws_frame_header(out, static_cast<uint8_t>(opcode), payload_len);
}

// Appends a whole frame. Control payloads (Close/Ping/Pong) must be at most 125
// bytes: callers echo pings the parser already bounded, and encode_close trims.
void append_frame(std::string& out, Opcode opcode, std::string_view payload);
[[nodiscard]] std::string encode_frame(Opcode opcode, std::string_view payload);

// A Close frame. close_code::no_status gives an empty payload (no code on the wire);
// otherwise the code and the UTF-8 reason, trimmed on a character boundary to the
// 123 bytes a control frame leaves for it.
[[nodiscard]] std::string encode_close(uint16_t code, std::string_view reason);

// ---------------------------------------------------------------------------------
// Opening handshake (RFC 6455 4.2)

inline constexpr std::string_view herald_subprotocol = "herald.v1";

using Header = std::pair<std::string, std::string>;

// The parts of the client's HTTP request the handshake depends on, as any HTTP layer
// can fill them. Routing (the request target) is the HTTP layer's business.
struct HandshakeRequest {
  std::string method;           // "GET"
  std::string version;          // "HTTP/1.1"
  std::vector<Header> headers;  // names in any case, values as received; repeats kept
};

// Server configuration for the handshake.
struct HandshakePolicy {
  // Exact origins a browser page may connect from ("https://app.example.com"),
  // compared case-insensitively. Empty allows every origin. A request without an
  // Origin header is let through: browsers always send one, so only non-browser
  // clients omit it, and those could forge any value anyway.
  std::vector<std::string> allowed_origins;
};

struct HandshakeAccept {
  std::string accept_key;   // Sec-WebSocket-Accept value
  std::string subprotocol;  // herald_subprotocol if the client offered it, else empty
};

// The HTTP error to answer instead of 101. Status choices: 405 with "Allow: GET" for
// another method (the resource exists, only GET upgrades it); 426 with
// "Sec-WebSocket-Version: 13" for another protocol version (RFC 6455 4.4); 403 for an
// origin outside the allow-list; 400 for everything else malformed, including a
// missing or wrong Upgrade/Connection header.
struct HandshakeReject {
  int status = 400;
  std::string reason;           // one line for the client: what was wrong, what to do
  std::vector<Header> headers;  // extra response headers (Allow, Sec-WebSocket-Version)
};

using HandshakeResult = std::variant<HandshakeAccept, HandshakeReject>;

// base64(SHA-1(key + RFC 6455 GUID)).
[[nodiscard]] std::string compute_accept_key(std::string_view client_key);

// Checks the request against RFC 6455 4.2.1 and the policy. Extensions offered in
// Sec-WebSocket-Extensions (permessage-deflate, ...) are refused by omission: the
// response simply names none, and the client must then send no RSV bits.
[[nodiscard]] HandshakeResult check_handshake(const HandshakeRequest& request, const HandshakePolicy& policy);

// The complete "HTTP/1.1 101 Switching Protocols" response, blank line included.
[[nodiscard]] std::string build_accept_response(const HandshakeAccept& accept);

// A complete error response with the reason as a text/plain body and
// "Connection: close", for transports that write the handshake answer themselves.
[[nodiscard]] std::string build_reject_response(const HandshakeReject& reject);

}  // namespace herald::ws
