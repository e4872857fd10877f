#include <catch2/catch.hpp>

#include "src/history.h"

using namespace herald;

namespace {
MessagePtr msg(const std::string& ch, uint64_t seq, int64_t ts = 1000, const std::string& epoch = "e1") {
  return build_message(ch, Cursor{epoch, seq}, ts, "{\"n\":" + std::to_string(seq) + "}");
}
std::vector<uint64_t> seqs(const Replay& r) {
  std::vector<uint64_t> out;
  for (auto& m : r.messages) out.push_back(m->cursor.seq);
  return out;
}
}  // namespace

TEST_CASE("cursors come back in order across channels") {
  History h({100, std::chrono::hours(1)});
  h.set_epoch("e1");
  for (uint64_t i = 1; i <= 10; ++i) h.append(msg(i % 2 ? "a" : "b", i), 1000);
  auto r = h.since({"a", "b"}, Cursor{"e1", 0}, 100);
  REQUIRE(r.recovered);
  REQUIRE(seqs(r) == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  REQUIRE(seqs(h.since({"b"}, Cursor{"e1", 5}, 100)) == std::vector<uint64_t>{6, 8, 10});
  REQUIRE(h.head() == Cursor{"e1", 10});
}

TEST_CASE("resume at every boundary of a count-bounded history") {
  const size_t keep = 5;
  History h({keep, std::chrono::hours(1)});
  h.set_epoch("e1");
  const uint64_t n = 12;
  for (uint64_t i = 1; i <= n; ++i) h.append(msg("a", i), 1000);
  REQUIRE(h.size() == keep);
  // Messages 1..7 were evicted: a client holding cursor k >= 7 misses nothing.
  for (uint64_t k = 0; k <= n + 2; ++k) {
    INFO("since " << k);
    auto r = h.since({"a"}, Cursor{"e1", k}, 100);
    REQUIRE(r.recovered == (k >= n - keep));
    std::vector<uint64_t> expect;
    for (uint64_t s = std::max<uint64_t>(k + 1, n - keep + 1); s <= n; ++s) expect.push_back(s);
    REQUIRE(seqs(r) == expect);
  }
}

TEST_CASE("history is per channel: a busy channel does not evict a quiet one") {
  History h({3, std::chrono::hours(1)});
  h.set_epoch("e1");
  h.append(msg("quiet", 1), 1000);
  for (uint64_t i = 2; i <= 50; ++i) h.append(msg("busy", i), 1000);
  auto r = h.since({"quiet"}, Cursor{"e1", 0}, 100);
  REQUIRE(r.recovered);
  REQUIRE(seqs(r) == std::vector<uint64_t>{1});
  REQUIRE_FALSE(h.since({"busy"}, Cursor{"e1", 10}, 100).recovered);
  REQUIRE(h.size() == 4);
}

TEST_CASE("age bound drops old messages and remembers that they existed") {
  History h({100, std::chrono::milliseconds(1000)});
  h.set_epoch("e1");
  h.append(msg("a", 1, 1000), 1000);
  h.append(msg("a", 2, 1500), 1500);
  h.append(msg("b", 3, 1200), 1200);
  h.expire(2300);  // keeps ts >= 1300
  REQUIRE(seqs(h.since({"a"}, Cursor{"e1", 1}, 100)) == std::vector<uint64_t>{2});
  REQUIRE_FALSE(h.since({"a"}, Cursor{"e1", 0}, 100).recovered);
  REQUIRE(h.channel_count() == 1);
  // "b" aged out entirely; a resume from before its last message is not recovered.
  REQUIRE_FALSE(h.since({"b"}, Cursor{"e1", 2}, 100).recovered);
  REQUIRE(h.since({"b"}, Cursor{"e1", 3}, 100).recovered);
}

TEST_CASE("another epoch is never recovered; a cursor ahead of this node is") {
  History h({10, std::chrono::hours(1)});
  h.set_epoch("e2");
  h.append(msg("a", 1, 1000, "e2"), 1000);
  auto other = h.since({"a"}, Cursor{"e1", 1}, 100);
  REQUIRE_FALSE(other.recovered);
  REQUIRE(other.messages.empty());
  auto ahead = h.since({"a"}, Cursor{"e2", 99}, 100);
  REQUIRE(ahead.recovered);
  REQUIRE(ahead.messages.empty());
  auto fresh = h.since({"a"}, std::nullopt, 100);
  REQUIRE(fresh.recovered);
  REQUIRE(fresh.messages.empty());
  REQUIRE(fresh.head == Cursor{"e2", 1});
}

TEST_CASE("replay honours its limit") {
  History h({100, std::chrono::hours(1)});
  h.set_epoch("e1");
  for (uint64_t i = 1; i <= 20; ++i) h.append(msg("a", i), 1000);
  auto r = h.since({"a"}, Cursor{"e1", 0}, 7);
  REQUIRE(r.truncated);
  REQUIRE(seqs(r) == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7});
}

TEST_CASE("messages are encoded once per wire format") {
  auto m = build_message("a:b", Cursor{"e1", 7}, 123, "{\"x\":\"\\u00e9\"}");
  REQUIRE(m->envelope == R"({"channel":"a:b","id":"e1-7","ts":123,"data":{"x":"\u00e9"}})");
  const std::string event = "id: e1-7\nevent: message\ndata: " + m->envelope + "\n\n";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", event.size());
  REQUIRE(m->sse_chunk == std::string(size) + "\r\n" + event + "\r\n");
  const std::string ws_payload = R"({"op":"message","channel":"a:b","id":"e1-7","ts":123,"data":{"x":"\u00e9"}})";
  REQUIRE(static_cast<unsigned char>(m->ws_frame[0]) == 0x81);
  REQUIRE(static_cast<size_t>(m->ws_frame[1]) == ws_payload.size());
  REQUIRE(m->ws_frame.substr(2) == ws_payload);
}
