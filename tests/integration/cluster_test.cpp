// Several herald nodes on one RabbitMQ (the private broker of rabbitmq_fixture.sh):
// one cluster-wide order with the same ids on every node and every transport, resume
// on any node, publishes during a broker outage, a node killed under its clients.
//
// One broker serves the whole run; each case gets a fresh vhost, and with it a log of
// its own, since herald's exchange and queue names are fixed.
#include "cluster_harness.h"

using namespace herald::test;
using nlohmann::json;

namespace {

const std::vector<Wire> kAllWires{Wire::Sse, Wire::LongPoll, Wire::WebSocket};

// GET /healthz of every node every 100 ms, kept as each node's list of status changes.
class HealthWatch {
 public:
  explicit HealthWatch(std::vector<int> ports) : ports_(std::move(ports)), changes_(ports_.size()) {
    thread_ = std::thread([this] {
      while (watching_) {
        for (size_t i = 0; i < ports_.size(); ++i) {
          const int status = http_get(ports_[i], "/healthz", 2).status;
          std::lock_guard lock(mutex_);
          if (changes_[i].empty() || changes_[i].back() != status) changes_[i].push_back(status);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~HealthWatch() { stop(); }
  void stop() {
    watching_ = false;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<int> changes(size_t node) const {
    std::lock_guard lock(mutex_);
    return changes_.at(node);
  }

 private:
  const std::vector<int> ports_;
  mutable std::mutex mutex_;
  std::vector<std::vector<int>> changes_;
  std::atomic<bool> watching_{true};
  std::thread thread_;
};

}  // namespace

TEST_CASE("a message published on one node reaches SSE, long-poll and WebSocket subscribers on every node with the same id",
          "[cluster]") {
  Cluster cluster("fanout", {"a", "b", "c"});
  const std::vector<std::string> channels{"news:one", "news:two"};
  auto subs = subscribe_everywhere(cluster, kAllWires, channels);

  // One message first: the id the publisher gets back is the id everyone receives.
  const auto first = http_post(cluster.port(0), "/api/publish", R"({"channel":"news:one","data":{"first":true}})");
  REQUIRE(first.status == 200);
  const std::string first_id = json::parse(first.body)["id"];
  for (auto& s : subs) {
    INFO(s->describe());
    REQUIRE(s->wait_count(1, 10000));
    CHECK(s->deliveries()[0].id == first_id);
    CHECK(s->deliveries()[0].data == R"({"first":true})");
  }

  PublishLoop loop(cluster.port(0), "A", channels, 300, std::chrono::milliseconds(0), 5);
  loop.wait();
  Published p = collect({&loop});
  REQUIRE(p.failed_requests == 0);
  p.acked.emplace(first_id, Sent{"news:one", R"({"first":true})"});
  std::vector<std::string> log{first_id};
  log.insert(log.end(), p.acked_in_order.begin(), p.acked_in_order.end());
  check_cursor_order(log);

  wait_all(subs, log.size());
  for (auto& s : subs) check_log(*s, log, p, channels);
}

TEST_CASE("two publishers on different nodes at once: every node delivers the same sequence", "[cluster]") {
  Cluster cluster("concurrent", {"a", "b", "c"});
  const std::vector<std::string> channels{"race:x", "race:y", "race:z"};
  auto subs = subscribe_everywhere(cluster, kAllWires, channels);

  PublishLoop on_a(cluster.port(0), "A", channels, 600, std::chrono::milliseconds(0), 7);
  PublishLoop on_b(cluster.port(1), "B", channels, 600, std::chrono::milliseconds(0), 5);
  on_a.wait();
  on_b.wait();
  const Published p = collect({&on_a, &on_b});
  REQUIRE(p.failed_requests == 0);
  REQUIRE(p.acked.size() == 1200);

  wait_all(subs, 1200);
  const auto log = subs[0]->ids();
  check_cursor_order(log);
  // Each publisher's own messages keep their publish order (it waited for each answer).
  std::vector<std::string> a_ids, b_ids, a_sent(p.acked_in_order.begin(), p.acked_in_order.begin() + 600);
  size_t switches = 0;
  for (size_t i = 0; i < log.size(); ++i) {
    const bool from_a = p.acked.at(log[i]).data.find("\"A\"") != std::string::npos;
    (from_a ? a_ids : b_ids).push_back(log[i]);
    if (i > 0 && from_a != (p.acked.at(log[i - 1]).data.find("\"A\"") != std::string::npos)) ++switches;
  }
  CHECK(difference(a_ids, a_sent).empty());
  INFO("the two publishers' messages alternate " << switches << " times in the log");
  CHECK(switches >= 10);  // they really were interleaved
  for (auto& s : subs) check_log(*s, log, p, channels);
}

TEST_CASE("a subscriber that read part of the log on one node resumes on another with its cursor: no gap, no duplicate",
          "[cluster]") {
  Cluster cluster("resume", {"a", "b"});
  const std::vector<std::string> channels{"resume:one", "resume:two"};
  const std::vector<Wire> wires{Wire::Sse, Wire::SseQuery, Wire::LongPoll, Wire::WebSocket};
  std::vector<std::unique_ptr<Subscriber>> subs;
  for (Wire w : wires)
    subs.push_back(std::make_unique<Subscriber>(w, std::vector<int>{cluster.port(0)}, channels, "", 50));
  for (auto& s : subs) REQUIRE(s->wait_subscribed(10000));

  // 100 messages; every subscriber stops reading node a after 50 of them.
  PublishLoop first(cluster.port(0), "first", channels, 100, std::chrono::milliseconds(0), 4);
  first.wait();
  for (auto& s : subs) {
    INFO(s->describe());
    REQUIRE(s->wait_paused(10000));
    REQUIRE(s->count() == 50);
  }
  // 100 more while they are away, then 150 while they come back on node b.
  PublishLoop second(cluster.port(1), "second", channels, 100, std::chrono::milliseconds(0), 4);
  second.wait();
  PublishLoop third(cluster.port(0), "third", channels, 150, std::chrono::milliseconds(4), 0);
  while (third.answered() < 30) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  for (auto& s : subs) s->resume_on(cluster.port(1));
  REQUIRE(third.answered() < 150);  // they come back while messages keep coming
  third.wait();

  const Published p = collect({&first, &second, &third});
  REQUIRE(p.failed_requests == 0);
  const auto& log = p.acked_in_order;  // one publisher at a time: publish order is log order
  check_cursor_order(log);
  wait_all(subs, log.size());
  for (auto& s : subs) {
    const bool per_channel = s->wire() == Wire::WebSocket;
    check_log(*s, log, p, channels, per_channel);
    const auto ds = s->deliveries();
    CHECK(std::all_of(ds.begin(), ds.begin() + 50, [&](const Delivery& d) { return d.port == cluster.port(0); }));
    CHECK(std::all_of(ds.begin() + 50, ds.end(), [&](const Delivery& d) { return d.port == cluster.port(1); }));
    CHECK(s->connections() == 2);
  }
}

TEST_CASE("RabbitMQ stopped and restarted under load: every acknowledged publish is delivered once to every subscriber",
          "[cluster]") {
  const bool kill = GENERATE(false, true);
  INFO((kill ? "RabbitMQ killed (SIGKILL)" : "RabbitMQ stopped gracefully"));
  Cluster cluster(kill ? "broker-kill" : "broker-stop", {"a", "b", "c"});
  const std::vector<std::string> channels{"live:one", "live:two"};
  auto subs = subscribe_everywhere(cluster, kAllWires, channels);

  HealthWatch health(cluster.ports());
  auto all_health = [&](int status, int timeout_ms) {
    const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < end) {
      bool all = true;
      for (size_t i = 0; i < cluster.size(); ++i) all = all && http_get(cluster.port(i), "/healthz", 2).status == status;
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };

  PublishLoop on_a(cluster.port(0), "A", channels, 1'000'000, std::chrono::milliseconds(10), 6);
  PublishLoop on_b(cluster.port(1), "B", channels, 1'000'000, std::chrono::milliseconds(10), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  RabbitFixture::get().halt(kill);
  REQUIRE(all_health(503, 20000));
  const auto inspected_down = inspect_snapshot(cluster.port(0));
  INFO("node a's inspector during the outage: " << inspected_down.dump());
  REQUIRE(inspected_down.is_object());
  CHECK(inspected_down["broker"]["kind"] == "rabbitmq");
  CHECK(inspected_down["broker"]["state"] != "up");
  // Publishing into the outage. After the graceful stop a fourth node starts too: it
  // cannot reach RabbitMQ, waits for it (up to 10 s), starts anyway and joins later.
  std::unique_ptr<HeraldProcess> late;
  if (!kill) {
    late = std::make_unique<HeraldProcess>(
        std::vector<std::string>{"--broker", cluster.url(), "--node-id", "d", "--history", "5000"});
    INFO(late->output());
    CHECK(late->output().find("rabbitmq") != std::string::npos);  // it logged its attempts before its URL
    CHECK(http_get(late->port(), "/healthz").status == 503);
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  }
  RabbitFixture::get().start();
  REQUIRE(all_health(200, 60000));
  std::unique_ptr<Subscriber> on_late;
  if (late) {
    const auto end = Clock::now() + std::chrono::seconds(30);
    while (http_get(late->port(), "/healthz").status != 200 && Clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(http_get(late->port(), "/healthz").status == 200);
    on_late = std::make_unique<Subscriber>(Wire::Sse, std::vector<int>{late->port()}, channels);
    REQUIRE(on_late->wait_subscribed(10000));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  on_a.stop();
  on_b.stop();
  health.stop();

  const Published p = collect({&on_a, &on_b});
  INFO(p.acked.size() << " publishes acknowledged, " << p.failed_requests << " refused");
  REQUIRE(p.failed_requests > 0);
  REQUIRE(p.acked.size() > 100);
  for (const auto* loop : {&on_a, &on_b}) {
    for (const auto& o : loop->outcomes()) {
      if (o.answer.status == 200) continue;
      INFO("status " << o.answer.status << " body " << o.answer.body);
      REQUIRE(o.answer.status == 503);
      REQUIRE(o.answer.retry_after == "1");
      const auto body = json::parse(o.answer.body, nullptr, false);
      REQUIRE(!body.is_discarded());
      CHECK(body["error"]["code"] == "broker_unavailable");
      CHECK(!body["error"]["message"].get<std::string>().empty());
    }
  }

  // Every subscriber (still on its first connection) has every acknowledged message,
  // then the same log as every other.
  for (auto& s : subs) {
    INFO(s->describe());
    const auto end = Clock::now() + std::chrono::seconds(30);
    auto has_all = [&] {
      std::set<std::string> got;
      for (const auto& id : s->ids()) got.insert(id);
      return std::all_of(p.acked.begin(), p.acked.end(), [&](const auto& a) { return got.count(a.first) > 0; });
    };
    while (!has_all() && Clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(has_all());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // stragglers: refused publishes that were stored
  const auto log = subs[0]->ids();
  check_cursor_order(log);
  for (auto& s : subs) {
    check_log(*s, log, p, channels);
    CHECK(s->connections() == 1);
    CHECK(s->drops() == 0);
  }
  if (on_late) {  // the node that started during the outage: the same log from where it subscribed
    REQUIRE(on_late->wait_count(1, 10000));
    const auto end = Clock::now() + std::chrono::seconds(30);
    while (on_late->ids().back() != log.back() && Clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto got = on_late->ids();
    const auto from = std::find(log.begin(), log.end(), got.front());
    REQUIRE(from != log.end());
    CHECK(difference(got, std::vector<std::string>(from, log.end())).empty());
    CHECK(on_late->errors().empty());
  }
  for (size_t i = 0; i < cluster.size(); ++i) {
    INFO("node " << i << " /healthz statuses in turn:" << [&] {
      std::string s;
      for (int st : health.changes(i)) s += " " + std::to_string(st);
      return s;
    }());
    const auto h = health.changes(i);
    const auto down = std::find(h.begin(), h.end(), 503);
    CHECK(h.front() == 200);
    CHECK(down != h.end());
    CHECK(std::find(down, h.end(), 200) != h.end());
    CHECK(metric(cluster.port(i), "herald_broker_reconnects_total") > 0);
    CHECK(metric(cluster.port(i), "herald_broker_up") == 1);
    const auto inspected = inspect_snapshot(cluster.port(i));
    CHECK(inspected["broker"]["state"] == "up");
    CHECK(inspected["broker"]["reconnects"].get<int>() > 0);
  }
}

TEST_CASE("a node killed with SIGKILL: its clients resume on another node with no gap", "[cluster]") {
  Cluster cluster("node-kill", {"a", "b", "c"});
  const std::vector<std::string> channels{"kill:one", "kill:two"};
  const std::vector<Wire> wires{Wire::Sse, Wire::SseQuery, Wire::LongPoll, Wire::WebSocket};
  std::vector<std::unique_ptr<Subscriber>> subs;
  // Clients of node c; when it goes, they try a, then b, as behind a load balancer.
  for (Wire w : wires)
    subs.push_back(std::make_unique<Subscriber>(
        w, std::vector<int>{cluster.port(2), cluster.port(0), cluster.port(1)}, channels));
  for (auto& s : subs) REQUIRE(s->wait_subscribed(10000));

  PublishLoop loop(cluster.port(0), "A", channels, 500, std::chrono::milliseconds(4), 5);
  for (auto& s : subs) REQUIRE(s->wait_count(150, 20000));
  cluster.node(2).kill();
  loop.wait();

  const Published p = collect({&loop});
  REQUIRE(p.failed_requests == 0);
  const auto& log = p.acked_in_order;
  check_cursor_order(log);
  wait_all(subs, log.size());
  for (auto& s : subs) {
    check_log(*s, log, p, channels, s->wire() == Wire::WebSocket);
    CHECK(s->drops() >= 1);
    CHECK(s->connections() == 2);
    CHECK(s->deliveries().back().port == cluster.port(0));
  }

  // Node c comes back: its warm-up replays the log's end, so an old cursor resumes there.
  const size_t c = cluster.start("c");
  Subscriber late(Wire::Sse, {cluster.port(c)}, channels, log[99]);
  REQUIRE(late.wait_count(log.size() - 100, 20000));
  const std::vector<std::string> rest(log.begin() + 100, log.end());
  CHECK(difference(late.ids(), rest).empty());
  CHECK(late.errors().empty());
}

// The head of an empty log is <epoch>-0 and every subscriber keeps it as its last-seen
// cursor, so the first message must have a seq above 0 on every broker (RabbitMQ's
// stream starts at offset 0: its cursors are offset + 1). Without that, the first
// message of a new log reached nobody subscribed before it.
TEST_CASE("the first message of a new log reaches every subscriber", "[cluster]") {
  Cluster cluster("first-message", {"a", "b"});
  auto subs = subscribe_everywhere(cluster, kAllWires, {"first:one"});
  const auto a = http_post(cluster.port(0), "/api/publish", R"({"channel":"first:one","data":"hello"})");
  REQUIRE(a.status == 200);
  const std::string id = json::parse(a.body)["id"];
  INFO("the first message got id " << id);
  subs[0]->wait_count(1, 3000);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (auto& s : subs) {
    INFO(s->describe());
    CHECK(s->count() == 1);
  }
}
