// Graceful drain in a cluster: node a gets SIGTERM while publishers keep publishing
// through both nodes; a's SSE, long-poll and WebSocket clients are told to go (SSE ends
// with a retry hint, a held long-poll is answered with its cursor, WebSocket closes with
// 1001), reconnect to node b with their cursors and miss nothing: every acknowledged
// message reaches every client exactly once, in the log's order.
#include <signal.h>

#include "cluster_harness.h"

using namespace herald::test;
using nlohmann::json;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

TEST_CASE("a node drained with SIGTERM: its SSE, long-poll and WebSocket clients resume on another node and lose nothing",
          "[drain]") {
  Cluster cluster("drain", {"a", "b"});
  const int a = cluster.port(0), b = cluster.port(1);
  const std::vector<std::string> channels{"drain:one", "drain:two"};
  const std::vector<Wire> wires{Wire::Sse, Wire::SseQuery, Wire::LongPoll, Wire::WebSocket};

  // Clients of node a (two of each kind); when a goes, they reconnect to b, as behind a
  // load balancer that stopped sending them to a.
  std::vector<std::unique_ptr<Subscriber>> on_a;
  for (int copy = 0; copy < 2; ++copy)
    for (Wire w : wires) on_a.push_back(std::make_unique<Subscriber>(w, std::vector<int>{a, b}, channels));
  // A long-poll on a channel nobody publishes to is surely held when the drain comes
  // (the busy ones may be between two polls): it must be answered, not cut.
  Subscriber quiet_poll(Wire::LongPoll, {a, b}, {"drain:quiet"});
  // Stays on b throughout: its ids are the log.
  Subscriber reference(Wire::Sse, {b}, channels);
  for (auto& s : on_a) REQUIRE(s->wait_subscribed(10000));
  REQUIRE(quiet_poll.wait_subscribed(10000));
  REQUIRE(reference.wait_subscribed(10000));

  // One publisher on a (it moves to b when a refuses or stops answering), one on b.
  PublishLoop via_a(std::vector<int>{a, b}, "A", channels, 1'000'000, std::chrono::milliseconds(5), 5);
  PublishLoop via_b(b, "B", channels, 1'000'000, std::chrono::milliseconds(5), 0);
  for (auto& s : on_a) {
    INFO(s->describe());
    REQUIRE(s->wait_count(150, 20000));
  }
  // Node a's inspector sees its clients and its RabbitMQ connection.
  const json inspected = inspect_snapshot(a);
  INFO("node a's inspector: " << inspected.dump());
  REQUIRE(inspected.is_object());
  CHECK(inspected["node"] == "a");
  CHECK(inspected["broker"]["kind"] == "rabbitmq");
  CHECK(inspected["broker"]["state"] == "up");
  CHECK(inspected["connections"]["websocket"] == 2);
  CHECK(inspected["connections"]["sse"] == 4);  // its own stream is not counted
  CHECK(inspected["connections"]["longpoll"].get<int>() <= 3);  // held polls only
  CHECK(inspected["channels"]["top"][0]["channel"] == "drain:one");

  const auto drain_started = Clock::now();
  const int exit_status = cluster.node(0).stop();  // SIGTERM; SIGKILL if not gone within 5 s
  const auto drain_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - drain_started).count();
  INFO("node a drained and exited in " << drain_ms << " ms");
  CHECK(exit_status == 0);  // it left by itself, having closed every connection

  // Everyone is back, on b, while messages keep coming.
  for (auto& s : on_a) {
    const auto end = Clock::now() + std::chrono::seconds(10);
    while (s->connections() < 2 && Clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    INFO(s->describe());
    REQUIRE(s->connections() == 2);
  }
  const auto back_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - drain_started).count();
  WARN("SIGTERM to node a's exit: " << drain_ms << " ms; every client subscribed again on b after " << back_ms
                                     << " ms");
  const size_t answered_at_drain = via_a.answered() + via_b.answered();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  via_a.stop();
  via_b.stop();

  const Published p = collect({&via_a, &via_b});
  INFO(p.acked.size() << " publishes acknowledged, " << p.failed_requests << " failed");
  REQUIRE(p.acked.size() > answered_at_drain);
  size_t acked_by_a = 0, acked_by_b_after_a = 0;
  bool moved = false;
  for (const auto& o : via_a.outcomes()) {
    if (o.answer.status == 200) {
      (o.port == a ? acked_by_a : acked_by_b_after_a) += o.ids.size();
      CHECK((!moved || o.port == b));  // once on b, it stays there
      continue;
    }
    // A publish that found a draining a: no answer (the connection closed) or 503.
    INFO("status " << o.answer.status << " body " << o.answer.body);
    CHECK((o.answer.status == 0 || o.answer.status == 503));
    if (o.answer.status == 503) CHECK(json::parse(o.answer.body)["error"]["code"] == "unavailable");
    moved = true;
  }
  CHECK(acked_by_a > 0);
  CHECK(acked_by_b_after_a > 0);

  // The reference subscriber has every acknowledged message; its ids are the log.
  const auto has_all = [&](const Subscriber& s) {
    std::set<std::string> got;
    for (const auto& id : s.ids()) got.insert(id);
    return std::all_of(p.acked.begin(), p.acked.end(), [&](const auto& m) { return got.count(m.first) > 0; });
  };
  const auto end = Clock::now() + std::chrono::seconds(20);
  while (!has_all(reference) && Clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(has_all(reference));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a publish that failed but was stored
  const auto log = reference.ids();
  check_cursor_order(log);
  check_log(reference, log, p, channels);
  CHECK(reference.drops() == 0);

  for (auto& s : on_a) {
    INFO(s->describe());
    REQUIRE(s->wait_count(log.size(), 20000));
    check_log(*s, log, p, channels, s->wire() == Wire::WebSocket);
    const auto ds = s->deliveries();
    CHECK(ds.front().port == a);
    CHECK(ds.back().port == b);
    CHECK(s->drops() == 1);
    const auto ends = s->ends();
    REQUIRE(ends.size() == 1);
    INFO("its connection to a ended: " << ends[0]);
    switch (s->wire()) {
      case Wire::Sse:
      case Wire::SseQuery: CHECK(ends[0] == "SSE ended with retry: 500"); break;
      case Wire::WebSocket: CHECK(starts_with(ends[0], "WebSocket close 1001 ")); break;
      case Wire::LongPoll:  // answered if a poll was held, else an idle keep-alive connection closed
        CHECK((ends[0] == "long-poll answered with Connection: close" || ends[0] == "long-poll cut"));
        break;
    }
  }
  // The held poll was answered with a cursor, and from it the client goes on on b.
  const auto quiet = http_post(b, "/api/publish", R"({"channel":"drain:quiet","data":"after"})");
  REQUIRE(quiet.status == 200);
  INFO(quiet_poll.describe());
  REQUIRE(quiet_poll.wait_count(1, 10000));
  CHECK(quiet_poll.deliveries()[0].id == json::parse(quiet.body)["id"]);
  CHECK(quiet_poll.deliveries()[0].port == b);
  CHECK(quiet_poll.ends() == std::vector<std::string>{"long-poll answered with Connection: close"});
  CHECK(quiet_poll.errors().empty());
}
