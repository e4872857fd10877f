// libFuzzer target for FrameParser, the parser of untrusted client bytes.
// Input: byte 0 picks the message size limit, byte 1 seeds how the rest (the wire
// bytes) is cut into reads. The same bytes are parsed whole and in pieces; both
// parses must agree exactly, and every event must respect the protocol's bounds.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "transports/websocket/ws_codec.h"

using namespace herald::ws;

namespace {

struct Outcome {
  std::vector<Event> events;
  bool error = false;
  uint16_t error_code = 0;
};

void check(bool ok) {
  if (!ok) std::abort();  // libFuzzer reports the input that got here
}

void check_event(const Event& ev, size_t max) {
  switch (ev.kind) {
    case EventKind::Text:
      check(is_valid_utf8(ev.payload));
      [[fallthrough]];
    case EventKind::Binary:
      check(ev.payload.size() <= max);
      break;
    case EventKind::Ping:
    case EventKind::Pong:
      check(ev.payload.size() <= 125);
      break;
    case EventKind::Close:
      check(ev.close_code == close_code::no_status || is_valid_close_code(ev.close_code));
      check(ev.payload.size() <= 123 && is_valid_utf8(ev.payload));
      check(ev.close_code != close_code::no_status || ev.payload.empty());
      break;
  }
}

// Parses `wire` in the pieces that `cut_seed` selects, checking the parser's contract
// on every call.
Outcome parse(std::string_view wire, size_t max, uint32_t cut_seed) {
  FrameParser parser(max);
  Outcome out;
  uint32_t state = cut_seed;
  while (true) {
    size_t n = wire.size();
    if (cut_seed != 0) {
      state = state * 1103515245u + 12345u;  // a fixed LCG: reproducible cuts
      n = std::min<size_t>(wire.size(), 1 + (state >> 16) % 17);
    }
    std::string_view piece = wire.substr(0, n);
    wire.remove_prefix(n);
    while (true) {
      Event ev;
      const size_t before = piece.size();
      const ParseStatus st = parser.parse(piece, ev);
      if (st == ParseStatus::Error) {
        check(parser.failed());
        const uint16_t code = parser.error().close_code;
        check(code == close_code::protocol_error || code == close_code::invalid_payload ||
              code == close_code::message_too_big);
        check(!parser.error().reason.empty());
        out.error = true;
        out.error_code = code;
        // Refused for good: nothing consumed, nothing produced.
        std::string_view again = "\x81\x80\x01\x02\x03\x04";
        Event ignored;
        check(parser.parse(again, ignored) == ParseStatus::Error && again.size() == 6);
        return out;
      }
      if (st == ParseStatus::NeedMore) {
        check(piece.empty());
        break;
      }
      check(piece.size() < before);  // an event always completes on a byte of this call
      check(!parser.closed() || ev.kind == EventKind::Close);
      check_event(ev, max);
      out.events.push_back(std::move(ev));
    }
    if (parser.closed()) {
      // Nothing after a Close becomes an event.
      std::string_view rest = wire;
      Event ignored;
      check(parser.parse(rest, ignored) == ParseStatus::NeedMore && rest.empty());
      return out;
    }
    if (wire.empty()) return out;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static constexpr size_t limits[4] = {16, 125, 1024, 65536};
  const size_t max = limits[data[0] & 3];
  const uint32_t seed = data[1] | 1u;  // never 0: 0 means "one piece"
  const std::string_view wire(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Outcome whole = parse(wire, max, 0);
  const Outcome pieces = parse(wire, max, seed);
  check(whole.error == pieces.error && whole.error_code == pieces.error_code);
  check(whole.events.size() == pieces.events.size());
  for (size_t i = 0; i < whole.events.size(); ++i) {
    check(whole.events[i].kind == pieces.events[i].kind);
    check(whole.events[i].payload == pieces.events[i].payload);
    check(whole.events[i].close_code == pieces.events[i].close_code);
  }
  return 0;
}
