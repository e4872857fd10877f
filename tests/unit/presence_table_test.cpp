// PresenceTable with a fake clock (every call takes the time): dedupe per user across
// connections and nodes, linger, node expiry, snapshots, bounds.
#include <catch2/catch.hpp>

#include "src/message.h"
#include "src/presence_table.h"

using namespace herald;

namespace {

std::vector<std::string> describe(const std::vector<PresenceEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(std::string(e.join ? "join " : "leave ") + e.channel + " " + e.user);
  return out;
}

std::vector<std::string> users(const PresenceTable& t, const std::string& channel) {
  std::vector<std::string> out;
  for (const auto& m : t.members(channel)) out.push_back(m.user);
  return out;
}

PresenceLimits limits(int64_t linger_ms = 1000, int64_t timeout_ms = 6000) {
  PresenceLimits l;
  l.linger_ms = linger_ms;
  l.node_timeout_ms = timeout_ms;
  return l;
}

}  // namespace

TEST_CASE("one user with two local connections joins once and leaves after the last one, past the linger") {
  PresenceTable t(limits(1000));
  PresenceChanges c;
  REQUIRE(t.local_join("room", "ann", R"({"name":"Ann"})", c));
  REQUIRE(t.local_join("room", "ann", R"({"name":"Ann"})", c));
  CHECK(describe(c.events) == std::vector<std::string>{"join room ann"});
  CHECK(describe(c.announce) == std::vector<std::string>{"join room ann"});
  CHECK(c.events[0].info == R"({"name":"Ann"})");

  PresenceChanges later;
  t.local_leave("room", "ann", 100, later);
  t.local_leave("room", "ann", 200, later);
  CHECK(later.events.empty());
  CHECK(users(t, "room") == std::vector<std::string>{"ann"});  // lingering
  t.expire(1199, later);
  CHECK(later.events.empty());
  t.expire(1200, later);
  CHECK(describe(later.events) == std::vector<std::string>{"leave room ann"});
  CHECK(describe(later.announce) == std::vector<std::string>{"leave room ann"});
  CHECK(users(t, "room").empty());
  CHECK(t.entries() == 0);
}

TEST_CASE("a user who comes back within the linger never leaves") {
  PresenceTable t(limits(1000));
  PresenceChanges c;
  REQUIRE(t.local_join("room", "bob", "", c));
  t.local_leave("room", "bob", 0, c);
  t.expire(500, c);
  REQUIRE(t.local_join("room", "bob", "", c));  // the next long-poll, a reconnect
  t.expire(5000, c);
  CHECK(describe(c.events) == std::vector<std::string>{"join room bob"});
  // Leaving again starts a new linger, measured from the new leave.
  t.local_leave("room", "bob", 6000, c);
  t.expire(6999, c);
  CHECK(c.events.size() == 1);
  t.expire(7000, c);
  CHECK(describe(c.events) == std::vector<std::string>{"join room bob", "leave room bob"});
}

TEST_CASE("without a linger a leave is immediate, and a leave of someone never listed is ignored") {
  PresenceTable t(limits(0));
  PresenceChanges c;
  t.local_leave("room", "ghost", 0, c);
  REQUIRE(t.local_join("room", "cy", "", c));
  t.local_leave("room", "cy", 0, c);
  t.local_leave("room", "cy", 0, c);
  CHECK(describe(c.events) == std::vector<std::string>{"join room cy", "leave room cy"});
}

TEST_CASE("a user listed by another node and this one joins once and leaves when both are gone") {
  PresenceTable t(limits(0));
  PresenceChanges c;
  t.remote_join("B", "room", "dee", R"({"n":1})", 0, c);
  REQUIRE(t.local_join("room", "dee", "", c));
  CHECK(describe(c.events) == std::vector<std::string>{"join room dee"});
  CHECK(describe(c.announce) == std::vector<std::string>{"join room dee"});  // the others learn of this node's
  CHECK(t.members("room")[0].info == R"({"n":1})");  // a join without info keeps the known one
  t.local_leave("room", "dee", 10, c);
  CHECK(c.events.size() == 1);
  t.remote_leave("B", "room", "dee", 20, c);
  CHECK(describe(c.events) == std::vector<std::string>{"join room dee", "leave room dee"});
}

TEST_CASE("a node not heard from within the timeout is dead: its users leave") {
  PresenceTable t(limits(0, 6000));
  PresenceChanges c;
  t.remote_snapshot("A", {{"room", {{"eve", ""}, {"fay", ""}}}, {"lobby", {{"eve", ""}}}}, {{"room", 2}}, 0, c);
  t.remote_snapshot("B", {{"room", {{"fay", ""}}}}, {{"room", 1}}, 0, c);
  CHECK(c.events.size() == 3);
  CHECK(t.remote_counts("ro") == ChannelCounts{{"room", 3}});
  CHECK(t.nodes() == 2);

  PresenceChanges later;
  t.remote_snapshot("B", {{"room", {{"fay", ""}}}}, {{"room", 1}}, 5000, later);  // B keeps beating
  t.expire(6000, later);
  CHECK(later.events.empty());
  t.expire(6001, later);  // A: 6001 ms since its last snapshot
  CHECK(describe(later.events) == std::vector<std::string>{"leave lobby eve", "leave room eve"});
  CHECK(users(t, "room") == std::vector<std::string>{"fay"});  // B still lists her
  CHECK(t.remote_counts("") == ChannelCounts{{"room", 1}});
  CHECK(later.announce.empty());  // not this node's users: nothing to tell the others
  t.expire(11001, later);
  CHECK(describe(later.events).back() == "leave room fay");
  CHECK(t.nodes() == 0);
  CHECK(t.entries() == 0);
}

TEST_CASE("a snapshot replaces what its node listed before") {
  PresenceTable t(limits());
  PresenceChanges c;
  t.remote_join("A", "room", "gus", "", 0, c);
  t.remote_join("A", "room", "hal", "", 0, c);
  PresenceChanges snap;
  t.remote_snapshot("A", {{"room", {{"hal", ""}, {"ivy", ""}}}}, {}, 100, snap);
  CHECK(describe(snap.events) == std::vector<std::string>{"leave room gus", "join room ivy"});
  CHECK(users(t, "room") == std::vector<std::string>{"hal", "ivy"});
}

TEST_CASE("the local listing holds only this node's users, lingering ones included") {
  PresenceTable t(limits(1000));
  PresenceChanges c;
  REQUIRE(t.local_join("room", "jo", R"({"a":1})", c));
  REQUIRE(t.local_join("room", "kim", "", c));
  t.local_leave("room", "kim", 0, c);
  t.remote_join("B", "room", "lu", "", 0, c);
  const auto listing = t.local_listing();
  REQUIRE(listing.size() == 1);
  const auto& room = listing.at("room");
  REQUIRE(room.size() == 2);
  CHECK(room[0].user == "jo");
  CHECK(room[0].info == R"({"a":1})");
  CHECK(room[1].user == "kim");
}

TEST_CASE("bounds: members per channel and entries in all; a refused join is not listed and counted") {
  PresenceLimits l = limits(0);
  l.max_members = 2;
  l.max_entries = 3;
  PresenceTable t(l);
  PresenceChanges c;
  REQUIRE(t.local_join("a", "u1", "", c));
  REQUIRE(t.local_join("a", "u2", "", c));
  CHECK_FALSE(t.local_join("a", "u3", "", c));   // channel full
  REQUIRE(t.local_join("a", "u1", "", c));       // already listed: a second connection is fine
  REQUIRE(t.local_join("b", "u1", "", c));
  CHECK_FALSE(t.local_join("c", "u1", "", c));   // table full
  t.remote_join("N", "c", "u9", "", 0, c);        // remote entries obey the same bound
  CHECK(t.members("c").empty());
  CHECK(t.overflows() == 3);
  CHECK(t.entries() == 3);
  // Room freed: the next join fits.
  t.local_leave("b", "u1", 0, c);
  REQUIRE(t.local_join("c", "u1", "", c));
  CHECK(users(t, "a") == std::vector<std::string>{"u1", "u2"});

  PresenceLimits few = limits();
  few.max_nodes = 1;
  PresenceTable n(few);
  n.remote_join("N1", "a", "x", "", 0, c);
  n.remote_join("N2", "a", "y", "", 0, c);
  CHECK(users(n, "a") == std::vector<std::string>{"x"});
  CHECK(n.nodes() == 1);
}

TEST_CASE("a presence event's encodings: SSE event without an id, WebSocket op, long-poll envelope") {
  const auto join = build_presence_event(true, "room", "ann \"A\"", R"({"name":"Ann"})");
  CHECK(join->kind == MessageKind::Join);
  CHECK(join->envelope == R"({"channel":"room","user":"ann \"A\"","info":{"name":"Ann"}})");
  CHECK(join->sse_chunk.find("event: join\ndata: {\"channel\":\"room\"") != std::string::npos);
  CHECK(join->sse_chunk.find("id:") == std::string::npos);
  CHECK(join->ws_frame.substr(2) == R"({"op":"join","channel":"room","user":"ann \"A\"","info":{"name":"Ann"}})");
  CHECK(static_cast<size_t>(join->ws_frame[1]) == join->ws_frame.size() - 2);
  const auto leave = build_presence_event(false, "room", "bob", "");
  CHECK(leave->kind == MessageKind::Leave);
  CHECK(leave->envelope == R"({"channel":"room","user":"bob","info":null})");
  CHECK(leave->sse_chunk.find("event: leave\n") != std::string::npos);
}

TEST_CASE("a node that says goodbye has its users leave at once") {
  PresenceTable t(limits(0, 6000));
  PresenceChanges c;
  t.remote_snapshot("A", {{"room", {{"eve", ""}}}}, {{"room", 1}}, 0, c);
  t.remote_join("B", "room", "eve", "", 0, c);
  t.remote_join("A", "room", "gil", "", 0, c);
  PresenceChanges bye;
  t.remote_gone("A", bye);
  CHECK(describe(bye.events) == std::vector<std::string>{"leave room gil"});  // eve is still on B
  CHECK(t.remote_counts("") == ChannelCounts{});
  CHECK(t.nodes() == 1);
}
