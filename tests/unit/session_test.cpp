#include <catch2/catch.hpp>

#include "src/hub.h"
#include "src/local_subscriptions.h"
#include "src/session.h"

using namespace herald;

namespace {
struct RecordingWire : SessionWire {
  std::vector<uint64_t> got;
  void write_message(const MessagePtr& m) override { got.push_back(m->cursor.seq); }
};
MessagePtr msg(const std::string& ch, uint64_t seq) { return build_message(ch, Cursor{"e", seq}, 0, "1"); }
}  // namespace

TEST_CASE("a subscription resumes from its cursor and drops what it already has") {
  Metrics metrics;
  Hub hub({100, std::chrono::hours(1)}, metrics);
  hub.on_epoch("e");
  LocalSubscriptions index(&hub);
  for (uint64_t i = 1; i <= 5; ++i) hub.on_message(msg("a", i));

  RecordingWire wire;
  Session s(index, wire);
  Replay r = s.subscribe({"a"}, Cursor{"e", 2}, 100, hub.history());
  REQUIRE(r.recovered);
  for (auto& m : r.messages) s.deliver(m);
  // The same messages arriving again through the live path (the race between
  // registration and the history read) are dropped.
  for (uint64_t i = 1; i <= 5; ++i) index.dispatch(msg("a", i));
  index.dispatch(msg("a", 6));
  index.dispatch(msg("b", 7));
  REQUIRE(wire.got == std::vector<uint64_t>{3, 4, 5, 6});
}

TEST_CASE("without a cursor a subscription starts at the head") {
  Metrics metrics;
  Hub hub({100, std::chrono::hours(1)}, metrics);
  hub.on_epoch("e");
  LocalSubscriptions index(&hub);
  hub.on_message(msg("a", 1));
  RecordingWire wire;
  Session s(index, wire);
  Replay r = s.subscribe({"a"}, std::nullopt, 100, hub.history());
  REQUIRE(r.messages.empty());
  REQUIRE(r.head == Cursor{"e", 1});
  index.dispatch(msg("a", 1));
  index.dispatch(msg("a", 2));
  REQUIRE(wire.got == std::vector<uint64_t>{2});
}

TEST_CASE("unsubscribe and destruction leave the index clean") {
  Metrics metrics;
  Hub hub({100, std::chrono::hours(1)}, metrics);
  LocalSubscriptions index(&hub);
  RecordingWire w1, w2;
  {
    Session s1(index, w1);
    Session s2(index, w2);
    (void)s1.subscribe({"a", "b", "a"}, std::nullopt, 10, hub.history());
    (void)s2.subscribe({"a"}, std::nullopt, 10, hub.history());
    REQUIRE(s1.channel_count() == 2);
    REQUIRE(index.channel_count() == 2);
    REQUIRE(s1.unsubscribe("a"));
    REQUIRE_FALSE(s1.unsubscribe("a"));
    REQUIRE(index.dispatch(msg("a", 1)) == 1);
  }
  REQUIRE(index.channel_count() == 0);
}

TEST_CASE("sessions leaving a shared channel in any order leave exactly the others subscribed") {
  // Each session keeps its place in the channel's list and is told when a removal
  // moves it; a stale place would unsubscribe the wrong session.
  Metrics metrics;
  Hub hub({100, std::chrono::hours(1)}, metrics);
  hub.on_epoch("e");
  LocalSubscriptions index(&hub);
  constexpr size_t kSessions = 50;
  std::vector<RecordingWire> wires(kSessions);
  std::vector<std::unique_ptr<Session>> sessions;
  for (size_t i = 0; i < kSessions; ++i) {
    sessions.push_back(std::make_unique<Session>(index, wires[i]));
    (void)sessions.back()->subscribe({i % 2 ? "a" : "b", "a"}, std::nullopt, 10, hub.history());
  }
  // Leave in a scrambled order: some by unsubscribe, some by destruction.
  std::vector<bool> gone(kSessions, false);
  uint64_t seq = 0;
  for (size_t k = 0; k < kSessions; ++k) {
    const size_t i = (k * 17) % kSessions;
    if (k % 3 == 0) {
      REQUIRE(sessions[i]->unsubscribe("a"));
    } else {
      sessions[i].reset();
    }
    gone[i] = true;
    ++seq;
    size_t live = 0;
    for (size_t j = 0; j < kSessions; ++j) live += gone[j] ? 0 : 1;
    REQUIRE(index.dispatch(msg("a", seq)) == live);
    for (size_t j = 0; j < kSessions; ++j) {
      const bool got = !wires[j].got.empty() && wires[j].got.back() == seq;
      REQUIRE(got == !gone[j]);
    }
  }
}

TEST_CASE("the dispatch ring is bounded and reports a loop that fell behind") {
  Metrics metrics;
  Hub hub({100, std::chrono::hours(1)}, metrics, 8);
  hub.on_epoch("e");
  uint64_t pos = 0;
  std::vector<MessagePtr> out;
  for (uint64_t i = 1; i <= 5; ++i) hub.on_message(msg("a", i));
  REQUIRE(hub.read(pos, out));
  REQUIRE(out.size() == 5);
  out.clear();
  for (uint64_t i = 6; i <= 20; ++i) hub.on_message(msg("a", i));
  REQUIRE_FALSE(hub.read(pos, out));  // 15 new, only 8 kept
  REQUIRE(out.size() == 8);
  REQUIRE(out.front()->cursor.seq == 13);
  REQUIRE(pos == 20);
}

// Found by the soak test: the ring kept its last 65536 messages alive (GBs of large
// ones) long after every loop had sent them.
TEST_CASE("the dispatch ring lets go of a message once every loop has read it") {
  struct NoWake final : LoopWaker {
    void wake() override {}
  } loop_a, loop_b;
  Metrics metrics;
  Hub hub({1, std::chrono::hours(1)}, metrics, 8);
  hub.add_loop(&loop_a);
  hub.add_loop(&loop_b);
  hub.on_epoch("e");
  hub.on_message(msg("a", 1));
  hub.on_message(msg("a", 2));  // history keeps one: message 1 now lives in the ring only
  uint64_t pos_a = 0, pos_b = 0;
  std::vector<MessagePtr> out;
  REQUIRE(hub.read(pos_a, out));
  std::weak_ptr<MessagePtr::element_type> first = out.at(0);
  out.clear();
  REQUIRE_FALSE(first.expired());  // loop b has yet to read it
  REQUIRE(hub.read(pos_b, out));
  REQUIRE(out.at(0)->cursor.seq == 1);
  out.clear();
  REQUIRE(first.expired());
}
