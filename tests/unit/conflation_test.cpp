// Conflation for slow consumers of "latest" namespaces: the Session's held message
// per channel, and the long-poll answer's conflate_batch.
#include <catch2/catch.hpp>

#include "src/conflation.h"
#include "src/hub.h"
#include "src/local_subscriptions.h"
#include "src/session.h"

using namespace herald;

namespace {

// Records what a transport would put on its wire, in order: "ch#seq" for a message,
// "gap ch N" for a gap notice. `backlog` stands for Conn::backlogged().
struct WireLog : SessionWire {
  std::vector<std::string> out;
  bool backlog = false;
  int notify_requests = 0;
  void write_message(const MessagePtr& m) override { out.push_back(m->channel + "#" + std::to_string(m->cursor.seq)); }
  bool backlogged() const override { return backlog; }
  void write_gap(const std::string& ch, uint64_t n) override { out.push_back("gap " + ch + " " + std::to_string(n)); }
  void notify_when_empty() override { ++notify_requests; }
};

MessagePtr msg(const std::string& ch, uint64_t seq, size_t size = 1) {
  return build_message(ch, Cursor{"e", seq}, 0, "\"" + std::string(size, 'x') + "\"");
}

bool latest_ns(std::string_view ch) { return ch.substr(0, 7) == "scores:"; }

struct Fixture {
  Metrics metrics;
  Hub hub{HistoryLimits{100, std::chrono::hours(1)}, metrics};
  LocalSubscriptions index{&hub, latest_ns};
  WireLog wire;
  Session session{index, wire};
  Fixture() { hub.on_epoch("e"); }
  void subscribe(std::vector<std::string> chans) { (void)session.subscribe(chans, std::nullopt, 100, hub.history()); }
};

}  // namespace

TEST_CASE("a keeping-up subscriber of a latest channel gets every message") {
  Fixture f;
  f.subscribe({"scores:a"});
  for (uint64_t i = 1; i <= 5; ++i) f.index.dispatch(msg("scores:a", i));
  REQUIRE(f.wire.out == std::vector<std::string>{"scores:a#1", "scores:a#2", "scores:a#3", "scores:a#4", "scores:a#5"});
  REQUIRE(f.wire.notify_requests == 0);
}

TEST_CASE("while backlogged a latest channel holds its newest message; the gap notice comes first") {
  Fixture f;
  f.subscribe({"scores:a"});
  f.index.dispatch(msg("scores:a", 1));
  f.wire.backlog = true;
  for (uint64_t i = 2; i <= 6; ++i) f.index.dispatch(msg("scores:a", i));
  REQUIRE(f.wire.out == std::vector<std::string>{"scores:a#1"});
  REQUIRE(f.session.held_count() == 1);
  REQUIRE(f.wire.notify_requests == 1);  // asked once, not per held message
  f.wire.backlog = false;
  f.session.release_held();
  REQUIRE(f.wire.out == std::vector<std::string>{"scores:a#1", "gap scores:a 4", "scores:a#6"});
  REQUIRE(f.session.held_count() == 0);
  // Released once: nothing is written twice, and live delivery goes on.
  f.session.release_held();
  f.index.dispatch(msg("scores:a", 7));
  REQUIRE(f.wire.out.back() == "scores:a#7");
  REQUIRE(f.wire.out.size() == 4);
}

TEST_CASE("a message held but not replaced is released without a gap notice") {
  Fixture f;
  f.subscribe({"scores:a"});
  f.wire.backlog = true;
  f.index.dispatch(msg("scores:a", 1));
  f.wire.backlog = false;
  f.session.release_held();
  REQUIRE(f.wire.out == std::vector<std::string>{"scores:a#1"});
}

TEST_CASE("disconnect channels are never held, and release held ones first so the wire stays in cursor order") {
  Fixture f;
  f.subscribe({"scores:a", "scores:b", "chat:c"});
  f.wire.backlog = true;
  f.index.dispatch(msg("scores:b", 1));
  f.index.dispatch(msg("scores:a", 2));
  f.index.dispatch(msg("scores:b", 3));
  f.index.dispatch(msg("scores:a", 4));
  f.index.dispatch(msg("scores:a", 5));
  REQUIRE(f.wire.out.empty());
  f.index.dispatch(msg("chat:c", 6));  // not conflated: written at once, after the held ones
  REQUIRE(f.wire.out == std::vector<std::string>{"gap scores:b 1", "scores:b#3", "gap scores:a 2", "scores:a#5", "chat:c#6"});
  f.index.dispatch(msg("scores:a", 7));  // still backlogged: held again
  REQUIRE(f.session.held_count() == 1);
  f.wire.backlog = false;
  f.index.dispatch(msg("scores:b", 8));  // caught up: the held one goes first
  REQUIRE(f.wire.out == std::vector<std::string>{"gap scores:b 1", "scores:b#3", "gap scores:a 2", "scores:a#5", "chat:c#6",
                                                 "scores:a#7", "scores:b#8"});
}

TEST_CASE("a held message is never written twice nor after unsubscribe") {
  Fixture f;
  f.subscribe({"scores:a", "scores:b"});
  f.wire.backlog = true;
  f.index.dispatch(msg("scores:a", 1));
  f.index.dispatch(msg("scores:a", 1));  // the replay/live race delivers it again
  f.index.dispatch(msg("scores:b", 2));
  REQUIRE(f.session.held_count() == 2);
  REQUIRE(f.session.unsubscribe("scores:b"));
  REQUIRE(f.session.held_count() == 1);
  f.session.release_held();
  REQUIRE(f.wire.out == std::vector<std::string>{"scores:a#1"});
  f.wire.backlog = true;
  f.index.dispatch(msg("scores:a", 3));
  f.session.unsubscribe_all();
  REQUIRE(f.session.held_count() == 0);
  f.session.release_held();
  REQUIRE(f.wire.out == std::vector<std::string>{"scores:a#1"});
}

TEST_CASE("a replay onto a backlogged wire is conflated too") {
  Fixture f;
  for (uint64_t i = 1; i <= 10; ++i) f.hub.on_message(msg("scores:a", i));
  f.wire.backlog = true;
  Replay r = f.session.subscribe({"scores:a"}, Cursor{"e", 2}, 100, f.hub.history());
  for (const auto& m : r.messages) f.session.deliver(m);
  f.wire.backlog = false;
  f.session.release_held();
  REQUIRE(f.wire.out == std::vector<std::string>{"gap scores:a 7", "scores:a#10"});
}

TEST_CASE("conflate_batch leaves a small batch alone") {
  std::vector<MessagePtr> batch{msg("scores:a", 1), msg("scores:a", 2), msg("chat:c", 3)};
  auto out = conflate_batch(batch, latest_ns, 10000);
  REQUIRE(out.messages == batch);
  REQUIRE(out.skipped.empty());
}

TEST_CASE("conflate_batch keeps the newest of each latest channel when the batch is too large") {
  std::vector<MessagePtr> batch;
  for (uint64_t i = 1; i <= 9; ++i) batch.push_back(msg(i % 3 == 0 ? "chat:c" : (i % 3 == 1 ? "scores:a" : "scores:b"), i, 100));
  auto out = conflate_batch(batch, latest_ns, 500);
  std::vector<uint64_t> seqs;
  for (const auto& m : out.messages) seqs.push_back(m->cursor.seq);
  // scores:a is 1,4,7 and scores:b 2,5,8; chat:c (3,6,9) keeps everything; cursor order kept.
  REQUIRE(seqs == std::vector<uint64_t>{3, 6, 7, 8, 9});
  REQUIRE(out.skipped == std::vector<std::pair<std::string, uint64_t>>{{"scores:a", 2}, {"scores:b", 2}});
  // Without a policy nothing is conflated.
  REQUIRE(conflate_batch(batch, nullptr, 500).messages.size() == 9);
}
