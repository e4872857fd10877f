// Many subscribers on one node: every one receives every message, in order, once.
#include <sys/resource.h>

#include <catch2/catch.hpp>

#include "crowd.h"
#include "herald_process.h"
#include "test_util.h"

using namespace herald::test;

namespace {
void raise_fd_limit() {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
}

void publish_batch(int port, const std::string& channel, int from, int count) {
  httplib::Client cli("127.0.0.1", port);
  nlohmann::json batch = nlohmann::json::array();
  for (int i = from; i < from + count; ++i) batch.push_back({{"channel", channel}, {"data", i}});
  auto res = cli.Post("/api/publish", batch.dump(), "application/json");
  REQUIRE(res);
  REQUIRE(res->status == 200);
}

void connect_all(Crowd& crowd, int timeout_ms) {
  const bool connected = crowd.connect(timeout_ms);
  INFO((crowd.first_failure().empty() ? "timed out" : crowd.first_failure()));
  REQUIRE(connected);
}

void check_all(const Crowd& crowd, size_t n, uint64_t first_seq) {
  for (size_t c = 0; c < crowd.size(); ++c) {
    const auto& got = crowd.received(c);
    if (got.size() != n) FAIL("client " << c << " received " << got.size() << " of " << n);
    for (size_t i = 0; i < n; ++i)
      if (got[i] != first_seq + i) FAIL("client " << c << " message " << i << " has seq " << got[i]);
  }
}
}  // namespace

TEST_CASE("1,000 SSE and 1,000 long-poll subscribers each receive all of 1,000 messages in order") {
  raise_fd_limit();
  HeraldProcess h({"--history", "2000"});
  Crowd sse(CrowdKind::Sse, h.port(), "channel=big", 1000);
  Crowd poll(CrowdKind::LongPoll, h.port(), "channel=big", 1000);
  connect_all(sse, 30000);
  connect_all(poll, 30000);
  const uint64_t first = seq_of(publish(h.port(), "warmup", 0)["id"]) + 1;
  // Published in batches while both crowds read, so delivery overlaps publishing.
  std::thread pub([&] {
    for (int b = 0; b < 20; ++b) publish_batch(h.port(), "big", b * 50, 50);
  });
  bool sse_done = false, poll_done = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!(sse_done && poll_done) && std::chrono::steady_clock::now() < deadline) {
    if (!sse_done) sse_done = sse.run_until(1000, 50);
    if (!poll_done) poll_done = poll.run_until(1000, 50);
  }
  pub.join();
  INFO(sse.first_failure());
  REQUIRE(sse.failures() == 0);
  INFO(poll.first_failure());
  REQUIRE(poll.failures() == 0);
  check_all(sse, 1000, first);
  check_all(poll, 1000, first);
}

TEST_CASE("5,000 WebSocket subscribers each receive 1,000 messages in order") {
  raise_fd_limit();
  // The crowd answers pings, but one thread reading 5,000 sockets in a sanitizer
  // build falls more than 25 s behind the data queued ahead of a ping, and herald
  // rightly drops a peer that late as dead. Liveness is the ws_liveness test's subject;
  // this one counts deliveries, so the pong deadline is out of its way.
  HeraldProcess h({"--history", "2000", "--ws-pong-timeout", "3600000"});
  Crowd ws(CrowdKind::WebSocket, h.port(), "channel=ws-big", 5000);
  connect_all(ws, 60000);
  const uint64_t first = seq_of(publish(h.port(), "warmup", 0)["id"]) + 1;
  std::thread pub([&] {
    for (int b = 0; b < 20; ++b) publish_batch(h.port(), "ws-big", b * 50, 50);
  });
  const bool done = ws.run_until(1000, 180000);
  pub.join();
  INFO(ws.first_failure());
  REQUIRE(ws.failures() == 0);
  REQUIRE(done);
  check_all(ws, 1000, first);
}
