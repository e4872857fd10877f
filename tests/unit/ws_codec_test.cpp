// FrameParser and the frame encoders: every RFC 6455 rule a server enforces, with the
// exact close code, and each valid stream checked at every split point.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "transports/websocket/ws_codec.h"

using namespace herald::ws;

namespace {

constexpr uint8_t fin = 0x80;
constexpr size_t whole = static_cast<size_t>(-1);

// A client frame: `b0` is the first byte (FIN, RSV, opcode). `len_bytes` forces the
// extended length form (0: 7-bit, 2: 16-bit, 8: 64-bit, -1: minimal).
std::string frame(uint8_t b0, std::string_view payload, bool masked = true, int len_bytes = -1,
                  uint32_t mask = 0x37FA213D) {
  std::string out(1, static_cast<char>(b0));
  const uint8_t mask_bit = masked ? 0x80 : 0;
  const size_t n = payload.size();
  if (len_bytes < 0) len_bytes = n < 126 ? 0 : n <= 0xFFFF ? 2 : 8;
  if (len_bytes == 0) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else {
    out.push_back(static_cast<char>(mask_bit | (len_bytes == 2 ? 126 : 127)));
    for (int shift = (len_bytes - 1) * 8; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xFF));
  }
  const uint8_t key[4] = {uint8_t(mask >> 24), uint8_t(mask >> 16), uint8_t(mask >> 8), uint8_t(mask)};
  if (masked) out.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(payload[i] ^ (masked ? key[i % 4] : 0)));
  return out;
}

std::string text(std::string_view p, bool last = true) { return frame((last ? fin : 0) | 0x1, p); }
std::string binary(std::string_view p, bool last = true) { return frame((last ? fin : 0) | 0x2, p); }
std::string cont(std::string_view p, bool last = true) { return frame((last ? fin : 0) | 0x0, p); }
std::string ping(std::string_view p) { return frame(fin | 0x9, p); }
std::string pong(std::string_view p) { return frame(fin | 0xA, p); }
std::string close_frame(uint16_t code, std::string_view reason = {}) {
  std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  p.append(reason);
  return frame(fin | 0x8, p);
}

std::string raw(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

struct Outcome {
  std::vector<Event> events;
  bool error = false;
  ProtocolError err;
};

// Feeds `wire` at the given cut points and collects everything the parser yields.
Outcome run_cuts(std::string_view wire, const std::vector<size_t>& cuts, size_t max = default_max_message_size) {
  FrameParser parser(max);
  Outcome o;
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(wire.size());
  for (size_t end : ends) {
    std::string_view piece = wire.substr(start, end - start);
    start = end;
    while (true) {
      Event ev;
      const ParseStatus st = parser.parse(piece, ev);
      if (st == ParseStatus::Event) {
        o.events.push_back(ev);
        continue;
      }
      if (st == ParseStatus::Error) {
        o.error = true;
        o.err = parser.error();
        // After an error the parser refuses everything and yields nothing more.
        std::string_view more("\x81\x80\0\0\0\0", 6);
        Event again;
        REQUIRE(parser.parse(more, again) == ParseStatus::Error);
        REQUIRE(more.size() == 6);
        return o;
      }
      REQUIRE(piece.empty());
      break;
    }
  }
  return o;
}

Outcome run(std::string_view wire, size_t chunk = whole, size_t max = default_max_message_size) {
  std::vector<size_t> cuts;
  if (chunk != whole) {
    for (size_t i = chunk; i < wire.size(); i += chunk) cuts.push_back(i);
  }
  return run_cuts(wire, cuts, max);
}

void require_same(const Outcome& a, const Outcome& b) {
  REQUIRE(a.error == b.error);
  REQUIRE(a.err.close_code == b.err.close_code);
  REQUIRE(a.events.size() == b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    REQUIRE(a.events[i].kind == b.events[i].kind);
    REQUIRE(a.events[i].payload == b.events[i].payload);
    REQUIRE(a.events[i].close_code == b.events[i].close_code);
  }
}

// The outcome of `wire` fed at once, which must not change when fed a byte at a
// time or cut in two at any position.
Outcome run_all_splits(std::string_view wire, size_t max = default_max_message_size) {
  const Outcome once = run(wire, whole, max);
  require_same(once, run(wire, 1, max));
  for (size_t i = 1; i < wire.size(); ++i) require_same(once, run_cuts(wire, {i}, max));
  return once;
}

uint16_t error_code(std::string_view wire, size_t max = default_max_message_size) {
  const Outcome o = run_all_splits(wire, max);
  REQUIRE(o.error);
  CHECK_FALSE(o.err.reason.empty());
  return o.err.close_code;
}

}  // namespace

// --- RFC 6455 section 5.7 examples -----------------------------------------------

TEST_CASE("rfc 5.7: masked single-frame text 'Hello'", "[codec][rfc]") {
  const auto o = run_all_splits(raw({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  REQUIRE_FALSE(o.error);
  REQUIRE(o.events.size() == 1);
  CHECK(o.events[0].kind == EventKind::Text);
  CHECK(o.events[0].payload == "Hello");
}

TEST_CASE("rfc 5.7: unmasked frames from a client are a protocol error", "[codec][rfc]") {
  CHECK(error_code(raw({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})) == 1002);
  CHECK(error_code(raw({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f})) == 1002);
  CHECK(error_code(raw({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})) == 1002);
  // Refused at the second byte, before any payload arrives.
  CHECK(run(raw({0x81, 0x05})).err.close_code == 1002);
}

TEST_CASE("rfc 5.7: fragmented 'Hel' + 'lo', masked", "[codec][rfc]") {
  const auto o = run_all_splits(frame(0x01, "Hel") + frame(0x80, "lo"));
  REQUIRE(o.events.size() == 1);
  CHECK(o.events[0].kind == EventKind::Text);
  CHECK(o.events[0].payload == "Hello");
}

TEST_CASE("rfc 5.7: masked pong 'Hello'", "[codec][rfc]") {
  const auto o = run_all_splits(raw({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  REQUIRE(o.events.size() == 1);
  CHECK(o.events[0].kind == EventKind::Pong);
  CHECK(o.events[0].payload == "Hello");
}

TEST_CASE("rfc 5.7: server encodings", "[codec][rfc]") {
  CHECK(encode_frame(Opcode::Text, "Hello") == raw({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  CHECK(encode_frame(Opcode::Ping, "Hello") == raw({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  const std::string b256 = encode_frame(Opcode::Binary, std::string(256, 'b'));
  CHECK(b256.substr(0, 4) == raw({0x82, 0x7E, 0x01, 0x00}));
  CHECK(b256.size() == 4 + 256);
  const std::string b64k = encode_frame(Opcode::Binary, std::string(65536, 'b'));
  CHECK(b64k.substr(0, 10) == raw({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}));
  CHECK(b64k.size() == 10 + 65536);
  std::string header;
  append_frame_header(header, Opcode::Pong, 0);
  CHECK(header == raw({0x8A, 0x00}));
}

// --- lengths and masking ------------------------------------------------------------

TEST_CASE("payload lengths across the 7/16/64-bit forms", "[codec]") {
  for (size_t n : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{127}, size_t{65535}, size_t{65536},
                   size_t{70001}}) {
    std::string payload(n, '\0');
    for (size_t i = 0; i < n; ++i) payload[i] = static_cast<char>(i * 7 + 3);
    INFO("length " << n);
    const auto o = n < 300 ? run_all_splits(binary(payload)) : run(binary(payload), 997);
    REQUIRE(o.events.size() == 1);
    CHECK(o.events[0].kind == EventKind::Binary);
    CHECK(o.events[0].payload == payload);
  }
}

TEST_CASE("non-minimal length encodings are accepted", "[codec]") {
  for (int len_bytes : {2, 8}) {
    const auto o = run_all_splits(frame(fin | 0x1, "abcde", true, len_bytes));
    REQUIRE(o.events.size() == 1);
    CHECK(o.events[0].payload == "abcde");
  }
  const auto p = run_all_splits(frame(fin | 0x9, "pp", true, 2));
  REQUIRE(p.events.size() == 0);  // a control frame with len7 = 126 says "over 125"
  CHECK(p.err.close_code == 1002);
}

TEST_CASE("64-bit length with the top bit set is a protocol error", "[codec]") {
  CHECK(error_code(raw({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4})) == 1002);
  CHECK(error_code(raw({0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4})) == 1002);
}

TEST_CASE("every mask key and offset unmasks correctly", "[codec]") {
  const std::string payload = "The quick brown fox jumps over the lazy dog, 0123456789!";
  for (uint32_t mask : {0u, 0xFFFFFFFFu, 0x01020304u, 0xDEADBEEFu}) {
    INFO("mask " << std::hex << mask);
    const auto o = run_all_splits(frame(0x1, payload.substr(0, 21), true, -1, mask) +
                                  frame(fin, payload.substr(21), true, -1, mask ^ 0x5A5A5A5Au));
    REQUIRE(o.events.size() == 1);
    CHECK(o.events[0].payload == payload);
    const auto m = run_all_splits(frame(fin | 0x2, payload, true, -1, mask));
    REQUIRE(m.events.size() == 1);
    CHECK(m.events[0].payload == payload);
  }
}

// --- header rules ---------------------------------------------------------------------

TEST_CASE("RSV1-3 are refused without a negotiated extension", "[codec]") {
  for (uint8_t rsv : {0x40, 0x20, 0x10, 0x70}) {
    CHECK(error_code(frame(fin | rsv | 0x1, "hi")) == 1002);
    CHECK(error_code(frame(fin | rsv | 0x9, "hi")) == 1002);
    CHECK(error_code(frame(rsv | 0x1, "hi") + cont("x")) == 1002);
    CHECK(error_code(text("hi", false) + frame(fin | rsv, "x")) == 1002);
  }
  // Refused at the first byte.
  CHECK(run(raw({0xC1})).err.close_code == 1002);
}

TEST_CASE("reserved opcodes are refused", "[codec]") {
  for (uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    INFO("opcode " << int(op));
    CHECK(error_code(frame(fin | op, "")) == 1002);
    CHECK(error_code(frame(fin | op, "payload")) == 1002);
    CHECK(error_code(text("a", false) + frame(fin | op, "b") + cont("c")) == 1002);
  }
}

TEST_CASE("a valid frame before a bad one is still delivered", "[codec]") {
  const auto o = run_all_splits(text("first") + frame(fin | 0x3, ""));
  REQUIRE(o.events.size() == 1);
  CHECK(o.events[0].payload == "first");
  CHECK(o.err.close_code == 1002);
}

// --- control frames ---------------------------------------------------------------------

TEST_CASE("ping and pong carry their payload", "[codec]") {
  const std::string max(125, '\xFE');
  const auto o = run_all_splits(ping("") + ping("hello") + pong("x") + ping(max));
  REQUIRE(o.events.size() == 4);
  CHECK(o.events[0].kind == EventKind::Ping);
  CHECK(o.events[0].payload.empty());
  CHECK(o.events[1].payload == "hello");
  CHECK(o.events[2].kind == EventKind::Pong);
  CHECK(o.events[3].payload == max);
}

TEST_CASE("control frames over 125 bytes are refused", "[codec]") {
  CHECK(error_code(ping(std::string(126, 'x'))) == 1002);
  CHECK(error_code(pong(std::string(126, 'x'))) == 1002);
  CHECK(error_code(frame(fin | 0x8, std::string("\x03\xE8") + std::string(124, 'x'))) == 1002);
  CHECK(error_code(frame(fin | 0x9, "tiny", true, 8)) == 1002);
}

TEST_CASE("fragmented control frames are refused", "[codec]") {
  CHECK(error_code(frame(0x09, "a")) == 1002);
  CHECK(error_code(frame(0x0A, "a")) == 1002);
  CHECK(error_code(frame(0x08, "")) == 1002);
}

TEST_CASE("control frames may be interleaved between fragments", "[codec]") {
  const auto o = run_all_splits(text("frag1", false) + ping("p1") + cont("frag2", false) + pong("p2") +
                                cont("frag3") + ping("p3"));
  REQUIRE_FALSE(o.error);
  REQUIRE(o.events.size() == 4);
  CHECK(o.events[0].kind == EventKind::Ping);
  CHECK(o.events[0].payload == "p1");
  CHECK(o.events[1].kind == EventKind::Pong);
  CHECK(o.events[2].kind == EventKind::Text);
  CHECK(o.events[2].payload == "frag1frag2frag3");
  CHECK(o.events[3].payload == "p3");
}

// --- fragmentation ----------------------------------------------------------------------

TEST_CASE("fragments are joined, empty ones included", "[codec]") {
  auto o = run_all_splits(text("", false) + cont("", false) + cont(""));
  REQUIRE(o.events.size() == 1);
  CHECK(o.events[0].payload.empty());
  o = run_all_splits(binary(std::string("\x00\xFF", 2), false) + cont("\x80") + text("next"));
  REQUIRE(o.events.size() == 2);
  CHECK(o.events[0].kind == EventKind::Binary);
  CHECK(o.events[0].payload == std::string("\x00\xFF\x80", 3));
  CHECK(o.events[1].payload == "next");
}

TEST_CASE("continuation with no open message is refused", "[codec]") {
  CHECK(error_code(cont("x")) == 1002);
  CHECK(error_code(cont("x", false)) == 1002);
  CHECK(error_code(text("done") + cont("x")) == 1002);
}

TEST_CASE("a new data frame while a message is open is refused", "[codec]") {
  CHECK(error_code(text("a", false) + text("b")) == 1002);
  CHECK(error_code(text("a", false) + binary("b")) == 1002);
  CHECK(error_code(binary("a", false) + text("b", false)) == 1002);
}

// --- close frames -------------------------------------------------------------------------

TEST_CASE("close without payload reports 1005", "[codec][close]") {
  const auto o = run_all_splits(frame(fin | 0x8, ""));
  REQUIRE(o.events.size() == 1);
  CHECK(o.events[0].kind == EventKind::Close);
  CHECK(o.events[0].close_code == close_code::no_status);
  CHECK(o.events[0].payload.empty());
}

TEST_CASE("close with code and reason", "[codec][close]") {
  const std::string reason = "bye \xE2\x82\xAC";
  const auto o = run_all_splits(close_frame(1000, reason));
  REQUIRE(o.events.size() == 1);
  CHECK(o.events[0].close_code == 1000);
  CHECK(o.events[0].payload == reason);
  const std::string longest(123, 'r');
  CHECK(run_all_splits(close_frame(4999, longest)).events.at(0).payload == longest);
}

TEST_CASE("close payload of one byte is refused", "[codec][close]") {
  CHECK(error_code(frame(fin | 0x8, "\x03")) == 1002);
}

TEST_CASE("close codes: exactly the wire-valid ones are accepted", "[codec][close]") {
  for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000,
                        4999}) {
    INFO("code " << code);
    CHECK(is_valid_close_code(code));
    const auto o = run(close_frame(code));
    REQUIRE(o.events.size() == 1);
    CHECK(o.events[0].close_code == code);
  }
  for (uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    INFO("code " << code);
    CHECK_FALSE(is_valid_close_code(code));
    CHECK(error_code(close_frame(code)) == 1002);
  }
  size_t valid = 0;
  for (uint32_t code = 0; code <= 0xFFFF; ++code) valid += is_valid_close_code(static_cast<uint16_t>(code));
  CHECK(valid == 4 + 8 + 2000);
}

TEST_CASE("close reason must be valid UTF-8", "[codec][close]") {
  CHECK(error_code(close_frame(1000, "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80")) == 1007);
  CHECK(error_code(close_frame(1000, "\xC2")) == 1007);
}

TEST_CASE("bytes after a close are discarded", "[codec][close]") {
  FrameParser parser;
  std::string wire = close_frame(1000) + text("ignored") + raw({0xFF, 0xFF});
  std::string_view in = wire;
  Event ev;
  REQUIRE(parser.parse(in, ev) == ParseStatus::Event);
  CHECK(ev.kind == EventKind::Close);
  CHECK(parser.closed());
  REQUIRE(parser.parse(in, ev) == ParseStatus::NeedMore);
  CHECK(in.empty());
  CHECK_FALSE(parser.failed());
}

TEST_CASE("a close inside a fragmented message ends it", "[codec][close]") {
  const auto o = run_all_splits(text("part", false) + close_frame(1001) + cont("rest"));
  REQUIRE(o.events.size() == 1);
  CHECK(o.events[0].kind == EventKind::Close);
  CHECK(o.events[0].close_code == 1001);
}

// --- UTF-8 in text messages ------------------------------------------------------------

TEST_CASE("text must be valid UTF-8", "[codec][utf8]") {
  CHECK(error_code(text("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80" "edited")) == 1007);
  CHECK(error_code(text("\xC0\xAF")) == 1007);
  CHECK(error_code(text("ends in \xE2\x82")) == 1007);  // truncated at message end
  CHECK(error_code(text("ok", false) + cont("\xF0\x9F", false) + cont("")) == 1007);
  // Binary carries anything.
  CHECK(run_all_splits(binary("\xC0\xAF\xFF")).events.size() == 1);
}

TEST_CASE("valid UTF-8 split inside code points across fragments", "[codec][utf8]") {
  const std::string msg = "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5 \xF0\x9F\x98\x80";
  for (size_t a = 0; a <= msg.size(); ++a) {
    for (size_t b = a; b <= msg.size(); b += 3) {
      const auto o = run(text(msg.substr(0, a), false) + cont(msg.substr(a, b - a), false) + cont(msg.substr(b)));
      REQUIRE_FALSE(o.error);
      REQUIRE(o.events.at(0).payload == msg);
    }
  }
  CHECK(run_all_splits(text(msg.substr(0, 1), false) + ping("") + cont(msg.substr(1))).events.size() == 2);
}

TEST_CASE("invalid UTF-8 fails fast, before the message completes", "[codec][utf8]") {
  // The first fragment is invalid; the parser must fail without seeing the rest.
  auto o = run(text("valid \xF4\x90\x80\x80 then more", false));
  CHECK(o.err.close_code == 1007);
  o = run(text("\xCE\xBA", false) + cont("\xED\xA0", false));
  CHECK(o.err.close_code == 1007);
  // Within one frame: only a part of its payload has arrived.
  const std::string whole_frame = text("abcdef\xFF" + std::string(100, 'z'));
  o = run(whole_frame.substr(0, 6 + 7));  // header + "abcdef\xFF"
  CHECK(o.error);
  CHECK(o.err.close_code == 1007);
}

// --- limits ----------------------------------------------------------------------------

TEST_CASE("messages up to the limit pass, larger ones get 1009", "[codec][limits]") {
  const size_t max = 64;
  CHECK(run_all_splits(text(std::string(64, 'a')), max).events.size() == 1);
  CHECK(run_all_splits(text(std::string(30, 'a'), false) + cont(std::string(34, 'b')), max).events.size() == 1);
  CHECK(error_code(text(std::string(65, 'a')), max) == 1009);
  CHECK(error_code(binary(std::string(65, 'a')), max) == 1009);
  CHECK(error_code(text(std::string(40, 'a'), false) + cont(std::string(25, 'b')), max) == 1009);
  CHECK(error_code(text("", false) + cont(std::string(64, 'b'), false) + cont("c"), max) == 1009);
  // Control frames do not count towards the message.
  CHECK(run_all_splits(text(std::string(60, 'a'), false) + ping(std::string(100, 'p')) + cont("1234"), max)
            .events.size() == 2);
}

TEST_CASE("an oversized frame is refused from its header alone", "[codec][limits]") {
  const std::string wire = binary(std::string(100000, 'x'));
  const auto o = run(wire.substr(0, 2 + 8 + 4), whole, 65536);
  CHECK(o.error);
  CHECK(o.err.close_code == 1009);
}

TEST_CASE("a large message in uneven pieces", "[codec][limits]") {
  std::string payload(65536, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + (i * 31 % 26));
  const std::string wire = text(payload.substr(0, 1000), false) + cont(payload.substr(1000, 33333), false) +
                           ping("x") + cont(payload.substr(34333));
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{7}, size_t{4096}, size_t{65535}}) {
    const auto o = run(wire, chunk, 65536);
    REQUIRE(o.events.size() == 2);
    CHECK(o.events[1].payload == payload);
  }
}

TEST_CASE("several messages in one read come out one per call", "[codec]") {
  FrameParser parser;
  const std::string wire = text("one") + binary("two") + ping("three");
  std::string_view in = wire;
  Event ev;
  REQUIRE(parser.parse(in, ev) == ParseStatus::Event);
  CHECK(ev.payload == "one");
  CHECK(in.size() == wire.size() - text("one").size());
  REQUIRE(parser.parse(in, ev) == ParseStatus::Event);
  CHECK(ev.kind == EventKind::Binary);
  REQUIRE(parser.parse(in, ev) == ParseStatus::Event);
  CHECK(ev.kind == EventKind::Ping);
  REQUIRE(parser.parse(in, ev) == ParseStatus::NeedMore);
}

// --- encoders ---------------------------------------------------------------------------

TEST_CASE("encode_close", "[codec][encode]") {
  CHECK(encode_close(close_code::no_status, "ignored") == raw({0x88, 0x00}));
  CHECK(encode_close(1000, "") == raw({0x88, 0x02, 0x03, 0xE8}));
  CHECK(encode_close(1002, "bad") == raw({0x88, 0x05, 0x03, 0xEA, 'b', 'a', 'd'}));
  // Trimmed to 123 bytes, on a character boundary.
  const std::string reason = std::string(122, 'a') + "\xE2\x82\xAC" + "tail";
  const std::string frame_bytes = encode_close(1009, reason);
  CHECK(frame_bytes.size() == 2 + 2 + 122);
  CHECK(static_cast<uint8_t>(frame_bytes[1]) == 124);
  CHECK(encode_close(1000, std::string(200, 'x')).size() == 2 + 125);
}

TEST_CASE("append_frame matches encode_frame", "[codec][encode]") {
  std::string out = "prefix";
  append_frame(out, Opcode::Text, "abc");
  CHECK(out == "prefix" + encode_frame(Opcode::Text, "abc"));
  CHECK(encode_frame(Opcode::Close, "") == raw({0x88, 0x00}));
}
