// InspectStats: the inspector's snapshot from two samples (rates, events, the busiest
// channels), without a server.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "src/inspect_stats.h"

using namespace herald;
using nlohmann::json;

namespace {

InspectNodeState node_state(int64_t unix_ms, int64_t inspectors = 0) {
  InspectNodeState s;
  s.node = "a";
  s.broker_kind = "rabbitmq";
  s.broker.state = "up";
  s.broker.lag = 7;
  s.broker.pending = 3;
  s.inspectors = inspectors;
  s.unix_ms = unix_ms;
  return s;
}

}  // namespace

TEST_CASE("channel tally: counts from every loop add up; the busiest first, ties by name") {
  ChannelTally t;
  t.add("b", 2);
  t.add("a", 1);
  t.add("c", 5);
  t.add("a", 1);  // the same channel on another loop
  t.add("z", 0);  // nobody: not a channel
  t.add("d", 2);
  CHECK(t.channels() == 4);
  CHECK(t.subscriptions() == 11);
  const auto top = t.top(3);
  REQUIRE(top.size() == 3);
  CHECK(top[0].channel == "c");
  CHECK(top[0].subscribers == 5);
  CHECK(top[1].channel == "a");  // 2, like b and d: by name
  CHECK(top[2].channel == "b");
  CHECK(t.top(100).size() == 4);
}

TEST_CASE("inspect snapshot: rates per second from two samples, null before the second") {
  InspectStats stats(2, 3);
  InspectSample s0;
  s0.at_ms = 10'000;
  s0.connections[static_cast<int>(TransportKind::Sse)] = 3;  // one of them the inspector
  s0.connections[static_cast<int>(TransportKind::WebSocket)] = 4;
  s0.published = 100;
  s0.delivered[static_cast<int>(TransportKind::WebSocket)] = 1000;
  ChannelTally tally;
  tally.add("room:a", 4);
  tally.add("room:b", 2);
  tally.add("room:c", 1);

  const json first = json::parse(stats.update(s0, tally, node_state(1, 1)));
  CHECK(first["rates"]["publish"].is_null());
  CHECK(first["rates"]["deliver"]["websocket"].is_null());
  CHECK(first["connections"]["sse"] == 2);
  CHECK(first["connections"]["websocket"] == 4);
  CHECK(first["inspectors"] == 1);
  CHECK(first["channels"]["count"] == 3);
  CHECK(first["channels"]["top"].size() == 2);
  CHECK(first["channels"]["top"][0] == json({{"channel", "room:a"}, {"subscribers", 4}}));
  CHECK(first["broker"]["kind"] == "rabbitmq");
  CHECK(first["broker"]["lag"] == 7);
  CHECK(first["broker"]["pending_confirms"] == 3);

  InspectSample s1 = s0;
  s1.at_ms = 12'000;  // two seconds later
  s1.published = 160;
  s1.delivered[static_cast<int>(TransportKind::WebSocket)] = 1400;
  const json second = json::parse(stats.update(s1, tally, node_state(2, 1)));
  CHECK(second["rates"]["publish"].get<double>() == Approx(30));
  CHECK(second["rates"]["deliver"]["websocket"].get<double>() == Approx(200));
  CHECK(second["rates"]["deliver"]["sse"].get<double>() == Approx(0));
  CHECK(second["rates"]["deliver_total"].get<double>() == Approx(200));
  CHECK(second["totals"]["published"] == 160);

  stats.reset();  // nobody watched: no rate over the gap
  CHECK(json::parse(stats.update(s1, tally, node_state(3)))["rates"]["publish"].is_null());
}

TEST_CASE("inspect snapshot: slow-consumer disconnects and conflations become events, newest first, bounded") {
  InspectStats stats(5, 2);
  InspectSample s;
  s.at_ms = 0;
  ChannelTally none;
  (void)stats.update(s, none, node_state(1000));
  s.at_ms = 1000;
  s.slow_consumer_drops = 2;
  json j = json::parse(stats.update(s, none, node_state(2000)));
  REQUIRE(j["slow_consumers"]["events"].size() == 1);
  CHECK(j["slow_consumers"]["events"][0] == json({{"at", 2000}, {"kind", "slow_consumer_disconnect"}, {"count", 2}}));
  CHECK(j["slow_consumers"]["disconnects"] == 2);
  CHECK(j["slow_consumers"]["disconnects_per_s"].get<double>() == Approx(2));

  s.at_ms = 2000;
  s.conflated = 5;
  s.loop_overflows = 1;
  j = json::parse(stats.update(s, none, node_state(3000)));
  const auto& events = j["slow_consumers"]["events"];
  REQUIRE(events.size() == 2);  // three happened; the oldest is gone
  CHECK(events[0]["kind"] == "loop_overflow");
  CHECK(events[1]["kind"] == "conflation");
  CHECK(events[1]["count"] == 5);
  CHECK(j["slow_consumers"]["conflated"] == 5);
  s.at_ms = 3000;  // nothing new: no event, rates back to 0
  j = json::parse(stats.update(s, none, node_state(4000)));
  CHECK(j["slow_consumers"]["events"].size() == 2);
  CHECK(j["slow_consumers"]["disconnects_per_s"].get<double>() == Approx(0));
}
