// The C++ client's pure logic: the cursor rules of CursorBook (resume, duplicates,
// replays, gaps, resync) and the client side of WebSocket framing, checked against
// the server's own parser where the two meet.
#include <catch2/catch.hpp>

#include "clients/cpp/cursor_book.h"
#include "clients/cpp/ws_frame_reader.h"

using namespace herald::client;
using namespace herald::client::detail;
namespace ws = herald::ws;

namespace {

Envelope env(const std::string& channel, const std::string& id) { return Envelope{channel, id, 1, nullptr}; }

std::vector<std::string> delivered_ids(const std::vector<Delivery>& out) {
  std::vector<std::string> ids;
  for (const auto& d : out)
    if (auto* e = std::get_if<Envelope>(&d)) ids.push_back(e->channel + "@" + e->id);
  return ids;
}

std::vector<Gap> gaps(const std::vector<Delivery>& out) {
  std::vector<Gap> g;
  for (const auto& d : out)
    if (auto* gap = std::get_if<Gap>(&d)) g.push_back(*gap);
  return g;
}

}  // namespace

TEST_CASE("CursorBook: duplicates and older messages are dropped per channel") {
  CursorBook book;
  book.add("a", std::nullopt);
  Link link;
  link.sent["a"] = std::nullopt;
  std::vector<Delivery> out;
  book.on_subscribed(link, SubscribedEvent{{"a"}, true, "e1-4"}, out);
  CHECK(book.cursor("a") == "e1-4");
  book.on_message(link, env("a", "e1-5"), out);
  book.on_message(link, env("a", "e1-5"), out);
  book.on_message(link, env("a", "e1-3"), out);
  book.on_message(link, env("a", "e1-6"), out);
  CHECK(delivered_ids(out) == std::vector<std::string>{"a@e1-5", "a@e1-6"});
  CHECK(book.cursor("a") == "e1-6");
}

TEST_CASE("CursorBook: replayed history moves no other channel; the replay's end does") {
  CursorBook book;
  book.add("live", std::nullopt);
  book.add("back", "e1-5");
  Link link;
  link.sent = {{"live", std::nullopt}, {"back", "e1-5"}};
  std::vector<Delivery> out;
  book.on_subscribed(link, SubscribedEvent{{"live"}, true, "e1-10"}, out);
  book.on_subscribed(link, SubscribedEvent{{"back"}, true, "e1-12"}, out);
  // The replay of "back": older than messages "live" may still have in flight.
  book.on_message(link, env("back", "e1-7"), out);
  book.on_message(link, env("back", "e1-9"), out);
  CHECK(book.cursor("live") == "e1-10");
  CHECK(book.cursor("back") == "e1-9");
  // "live"'s message 11 was published before "back" subscribed but arrives after its
  // replay: it must not be dropped, and it ends the replay.
  book.on_message(link, env("live", "e1-11"), out);
  CHECK(book.cursor("back") == "e1-12");  // complete up to the head it was given
  // Live traffic now moves every live channel.
  book.on_message(link, env("live", "e1-20"), out);
  CHECK(book.cursor("back") == "e1-20");
  CHECK(delivered_ids(out) == std::vector<std::string>{"back@e1-7", "back@e1-9", "live@e1-11", "live@e1-20"});
  CHECK(gaps(out).empty());
}

TEST_CASE("CursorBook: a channel new to an SSE stream drops the replayed history of others' cursor") {
  CursorBook book;
  book.add("old", "e1-3");
  book.add("new", std::nullopt);
  Link link;
  link.sent = {{"old", "e1-3"}, {"new", std::nullopt}};
  link.since = "e1-3";
  std::vector<Delivery> out;
  book.on_subscribed(link, SubscribedEvent{{"old", "new"}, true, "e1-8"}, out);
  // The stream replays both channels after e1-3, in cursor order.
  book.on_message(link, env("new", "e1-4"), out);
  book.on_message(link, env("old", "e1-5"), out);
  book.on_message(link, env("new", "e1-6"), out);
  book.on_message(link, env("old", "e1-7"), out);
  book.on_message(link, env("new", "e1-9"), out);
  CHECK(delivered_ids(out) == std::vector<std::string>{"old@e1-5", "old@e1-7", "new@e1-9"});
  CHECK(book.cursor("old") == "e1-9");
}

TEST_CASE("CursorBook: a new epoch or an unrecovered resume is a gap, then delivery goes on") {
  CursorBook book;
  book.add("a", "e1-5");
  Link link;
  link.sent = {{"a", "e1-5"}};
  std::vector<Delivery> out;
  book.on_subscribed(link, SubscribedEvent{{"a"}, false, "e2-0"}, out);
  auto g = gaps(out);
  REQUIRE(g.size() == 1);
  CHECK(g[0].channel == "a");
  CHECK(g[0].last_cursor == "e1-5");
  CHECK(g[0].cursor == "e2-0");
  book.on_message(link, env("a", "e2-1"), out);
  CHECK(delivered_ids(out) == std::vector<std::string>{"a@e2-1"});
  CHECK(book.cursor("a") == "e2-1");
  CHECK(is_newer("e2-1", std::string("e1-99")));
  CHECK_FALSE(is_newer("e2-1", std::string("e2-1")));
}

TEST_CASE("CursorBook: long-poll answers move every channel to their cursor and report gaps") {
  CursorBook book;
  book.add("a", "e1-2");
  book.add("b", "e1-2");
  Link link;
  link.sent = {{"a", "e1-2"}, {"b", "e1-2"}};
  link.since = "e1-2";
  std::vector<Delivery> out;
  book.on_batch(link, BatchEvent{{"a", "b"}, true, {env("a", "e1-3"), env("a", "e1-3")}, "e1-6"}, out);
  CHECK(delivered_ids(out) == std::vector<std::string>{"a@e1-3"});
  CHECK(book.cursor("b") == "e1-6");
  CHECK(book.pick_since({"a", "b"}) == "e1-6");
  out.clear();
  book.on_batch(link, BatchEvent{{"a", "b"}, false, {}, "e2-4"}, out);
  CHECK(gaps(out).size() == 2);
  CHECK(book.cursor("a") == "e2-4");
}

TEST_CASE("CursorBook: a conflation notice is a gap with its count; the newest message follows") {
  CursorBook book;
  book.add("scores:a", std::nullopt);
  book.add("chat:b", std::nullopt);
  Link link;
  link.sent = {{"scores:a", std::nullopt}, {"chat:b", std::nullopt}};
  std::vector<Delivery> out;
  book.on_subscribed(link, SubscribedEvent{{"scores:a", "chat:b"}, true, "e1-5"}, out);
  book.on_message(link, env("scores:a", "e1-6"), out);
  book.on_skipped(link, SkippedEvent{"scores:a", 12}, out);
  book.on_skipped(link, SkippedEvent{"other", 3}, out);  // not a channel of this link
  book.on_message(link, env("scores:a", "e1-19"), out);
  book.on_message(link, env("chat:b", "e1-20"), out);
  CHECK(delivered_ids(out) == std::vector<std::string>{"scores:a@e1-6", "scores:a@e1-19", "chat:b@e1-20"});
  auto g = gaps(out);
  REQUIRE(g.size() == 1);
  CHECK(g[0].channel == "scores:a");
  CHECK(g[0].skipped == 12);
  CHECK(g[0].last_cursor == "e1-6");
  CHECK(book.cursor("scores:a") == "e1-20");

  // Long-poll: "skipped" in the answer, reported before its messages.
  out.clear();
  book.on_batch(link, BatchEvent{{"scores:a", "chat:b"}, true, {env("scores:a", "e1-40")}, "e1-40", {{"scores:a", 19}}},
                out);
  REQUIRE(gaps(out).size() == 1);
  CHECK(gaps(out)[0].skipped == 19);
  CHECK(std::holds_alternative<Gap>(out.front()));
  CHECK(delivered_ids(out) == std::vector<std::string>{"scores:a@e1-40"});
}

TEST_CASE("CursorBook: a single resume cursor of a stale epoch makes the link resync, not report gaps") {
  CursorBook book;
  book.add("stale", "e0-9");
  book.add("current", "e1-5");
  CHECK(book.pick_since({"current", "stale"}) == "e1-5");  // first channel's epoch before any is known
  CHECK(book.pick_since({"stale", "current"}) == "e0-9");
  Link link;
  link.sent = {{"stale", "e0-9"}, {"current", "e1-5"}};
  link.since = "e0-9";
  std::vector<Delivery> out;
  book.on_subscribed(link, SubscribedEvent{{"stale", "current"}, false, "e1-8"}, out);
  CHECK(link.resync);
  CHECK(out.empty());
  book.on_message(link, env("current", "e1-9"), out);
  CHECK(out.empty());  // ignored: the replacement resumes "current" from e1-5
  // The epoch is known now, so the replacement's cursor is the current one.
  CHECK(book.pick_since({"stale", "current"}) == "e1-5");
}

TEST_CASE("mask_frame: the server's parser reads what the client sends") {
  const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
  for (size_t size : {size_t{0}, size_t{5}, size_t{125}, size_t{126}, size_t{70000}}) {
    CAPTURE(size);
    const std::string text(size, 'x');
    const std::string frame = mask_frame(ws::encode_frame(ws::Opcode::Text, text), mask);
    ws::FrameParser server;
    std::string_view in = frame;
    ws::Event ev;
    REQUIRE(server.parse(in, ev) == ws::ParseStatus::Event);
    CHECK(ev.kind == ws::EventKind::Text);
    CHECK(ev.payload == text);
    CHECK(in.empty());
  }
  ws::FrameParser server;
  const std::string close = mask_frame(ws::encode_close(1000, "bye"), mask);
  std::string_view in = close;
  ws::Event ev;
  REQUIRE(server.parse(in, ev) == ws::ParseStatus::Event);
  CHECK(ev.kind == ws::EventKind::Close);
  CHECK(ev.close_code == 1000);
}

TEST_CASE("ServerFrameReader: whole frames, split input, fragments and control frames") {
  ServerFrameReader reader(1 << 20);
  std::string bytes = ws::encode_frame(ws::Opcode::Text, R"({"op":"pong"})");
  bytes += ws::encode_frame(ws::Opcode::Ping, "p");
  // A fragmented message with a ping between its fragments.
  bytes += std::string{'\x01', '\x03'} + "hel";
  bytes += ws::encode_frame(ws::Opcode::Pong, "");
  bytes += std::string{'\x80', '\x02'} + "lo";
  bytes += ws::encode_close(1001, "going away");

  std::vector<ws::Event> events;
  std::string buffer;
  for (char c : bytes) {  // one byte at a time: the worst split
    buffer.push_back(c);
    std::string_view view = buffer;
    ws::Event ev;
    ws::ParseStatus status;
    while ((status = reader.next(view, ev)) == ws::ParseStatus::Event) events.push_back(ev);
    REQUIRE(status == ws::ParseStatus::NeedMore);
    buffer.erase(0, buffer.size() - view.size());
  }
  REQUIRE(events.size() == 5);
  CHECK(events[0].kind == ws::EventKind::Text);
  CHECK(events[0].payload == R"({"op":"pong"})");
  CHECK(events[1].kind == ws::EventKind::Ping);
  CHECK(events[2].kind == ws::EventKind::Pong);
  CHECK(events[3].kind == ws::EventKind::Text);
  CHECK(events[3].payload == "hello");
  CHECK(events[4].kind == ws::EventKind::Close);
  CHECK(events[4].close_code == 1001);
  CHECK(events[4].payload == "going away");
}

TEST_CASE("ServerFrameReader: protocol errors") {
  const uint8_t mask[4] = {1, 2, 3, 4};
  struct Case {
    const char* name;
    std::string bytes;
    uint16_t code;
  };
  const std::vector<Case> cases{
      {"masked", mask_frame(ws::encode_frame(ws::Opcode::Text, "x"), mask), ws::close_code::protocol_error},
      {"rsv", std::string{'\xC1', '\x00'}, ws::close_code::protocol_error},
      {"opcode", std::string{'\x83', '\x00'}, ws::close_code::protocol_error},
      {"long ping", std::string{'\x89', '\x7E', '\x00', '\x80'}, ws::close_code::protocol_error},
      {"orphan continuation", std::string{'\x80', '\x00'}, ws::close_code::protocol_error},
      {"bad utf-8", ws::encode_frame(ws::Opcode::Text, "\xC3\x28"), ws::close_code::invalid_payload},
      {"close code", std::string{'\x88', '\x02', '\x03', '\xEE'}, ws::close_code::protocol_error},
      // Refused from the header alone: the 16 MiB payload is never waited for.
      {"too big", std::string{'\x82', '\x7F', 0, 0, 0, 0, '\x01', 0, 0, 0}, ws::close_code::message_too_big},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    ServerFrameReader reader(1 << 20);
    std::string_view view = c.bytes;
    ws::Event ev;
    REQUIRE(reader.next(view, ev) == ws::ParseStatus::Error);
    CHECK(reader.error().close_code == c.code);
    CHECK(reader.next(view, ev) == ws::ParseStatus::Error);  // and stays failed
  }
}
