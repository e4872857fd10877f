// Presence (the thread-safe service) on the memory broker: local joins reach the ring
// as events, its own snapshots that the broker hands back are not taken for another
// node, other nodes' messages are applied, and a goodbye drops a node's users.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "broker/memory/broker_memory.h"
#include "src/hub.h"
#include "src/presence.h"

using namespace herald;

namespace {

std::vector<std::string> users(const Presence& p, const std::string& channel) {
  std::vector<std::string> out;
  for (const auto& m : p.members(channel)) out.push_back(m.user);
  return out;
}

}  // namespace

TEST_CASE("presence on the memory broker: events to the ring, own snapshots ignored, other nodes applied") {
  Config config;
  config.config_file = "/tmp/herald-presence-test-" + std::to_string(::getpid()) + ".json";
  std::ofstream(config.config_file) << R"({"namespaces": {"room": {"presence": true}}})";
  const Namespaces namespaces = Namespaces::load(config);
  std::remove(config.config_file.c_str());
  Metrics metrics;
  Hub hub({100, std::chrono::hours(1)}, metrics);
  MemoryBroker broker;
  PresenceOptions options;
  options.heartbeat_ms = 20;
  options.limits.linger_ms = 0;
  Presence presence(namespaces, hub, options, "self-1");
  hub.set_presence(&presence);
  broker.start(hub);
  presence.start(broker);

  CHECK(presence.enabled("room:1"));
  CHECK_FALSE(presence.enabled("news:1"));
  uint64_t next = hub.ring_position();
  REQUIRE(presence.join("room:1", {"ann", R"({"n":1})"}));
  std::vector<MessagePtr> ring;
  REQUIRE(hub.read(next, ring));
  REQUIRE(ring.size() == 1);
  CHECK(ring[0]->kind == MessageKind::Join);
  CHECK(ring[0]->envelope == R"({"channel":"room:1","user":"ann","info":{"n":1}})");

  // Several heartbeats come back through the broker: still no other node.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(presence.nodes() == 0);
  CHECK(users(presence, "room:1") == std::vector<std::string>{"ann"});

  hub.on_node_state(R"({"k":"beat","n":"other","p":{"room:1":[["bob",null]]},"s":{"room:1":3}})");
  CHECK(presence.nodes() == 1);
  CHECK(users(presence, "room:1") == std::vector<std::string>{"ann", "bob"});
  hub.channel_ref("room:1");
  CHECK(presence.counts("room:") == ChannelCounts{{"room:1", 4}});
  hub.on_node_state(R"({"k":"bye","n":"other"})");
  CHECK(users(presence, "room:1") == std::vector<std::string>{"ann"});
  CHECK(presence.counts("room:") == ChannelCounts{{"room:1", 1}});
  hub.on_node_state("not json");
  hub.on_node_state(R"({"k":"join","n":"other"})");  // no channel: ignored
  CHECK(presence.nodes() == 0);

  ring.clear();
  REQUIRE(hub.read(next, ring));
  std::vector<std::string> kinds;
  for (const auto& m : ring) kinds.push_back(m->kind == MessageKind::Join ? "join " + m->channel : "leave " + m->channel);
  CHECK(kinds == std::vector<std::string>{"join room:1", "leave room:1"});  // bob came and went

  presence.leave("room:1", "ann");
  CHECK(users(presence, "room:1").empty());
  presence.stop();
  broker.stop();
}
