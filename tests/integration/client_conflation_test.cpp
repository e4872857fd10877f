// The C++ client against a server that conflates (slow_consumer "latest"): a client
// whose callback is stuck stops reading (past Options::event_queue_limit its I/O
// thread waits), the server holds only the newest message for it, and once the
// callback returns the client reports the gap with its count and delivers the newest.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include "clients/cpp/herald_client.h"
#include "herald_process.h"

using namespace std::chrono_literals;
using herald::client::Client;
using herald::client::Envelope;
using herald::client::Gap;
using herald::client::Options;
using herald::client::Transport;
using herald::test::HeraldProcess;
using nlohmann::json;

namespace {

std::string latest_config() {
  const std::string path = "/tmp/herald-conflation-" + std::to_string(::getpid()) + ".json";
  std::ofstream(path) << R"({"namespaces":{"scores":{"slow_consumer":"latest"}}})";
  return path;
}

// One transport; the I/O thread waits for the callbacks almost at once.
Options stuck_options(const std::string& url, Transport t) {
  Options o;
  o.base_url = url;
  o.transports = {t};
  o.event_queue_limit = 2;
  o.poll_timeout = 5s;
  return o;
}

}  // namespace

TEST_CASE("a client that stops reading gets the newest message and a gap with the skipped count") {
  const std::string config = latest_config();
  HeraldProcess h({"--config", config, "--heartbeat", "60000"});
  Options po;
  po.base_url = h.url();
  Client pub(po);
  // Enough to fill what the kernel takes for a socket nobody reads (a few MiB) twice.
  const std::string pad(60000, 'p');
  constexpr int kMessages = 240;

  for (Transport t : {Transport::WebSocket, Transport::Sse, Transport::LongPoll}) {
    const std::string channel = "scores:stuck-" + std::string(herald::client::transport_name(t));
    CAPTURE(channel);
    std::mutex mu;
    std::condition_variable cv;
    bool release = false;
    std::vector<int> got;
    std::vector<Gap> gaps;

    Client c(stuck_options(h.url(), t));
    c.on_message([&](const Envelope& e) {
      std::unique_lock lock(mu);
      got.push_back(e.data.at("n").get<int>());
      cv.notify_all();
      cv.wait(lock, [&] { return release; });  // stuck until the test lets go
    });
    c.on_gap([&](const Gap& g) {
      std::lock_guard lock(mu);
      gaps.push_back(g);
    });
    c.subscribe(channel);
    c.start();
    for (int i = 0; i < 1000 && !c.cursor(channel); ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(c.cursor(channel));

    REQUIRE(pub.publish(channel, json{{"n", 0}}).ok());
    {
      std::unique_lock lock(mu);
      REQUIRE(cv.wait_for(lock, 10s, [&] { return !got.empty(); }));
    }
    std::vector<std::string> ids;
    for (int n = 1; n < kMessages; n += 10) {
      std::vector<herald::client::PublishItem> batch;
      for (int i = n; i < n + 10 && i < kMessages; ++i) batch.push_back({channel, json{{"n", i}, {"pad", pad}}});
      auto r = pub.publish(batch);
      REQUIRE(r.ok());
    }
    std::this_thread::sleep_for(300ms);
    {
      std::lock_guard lock(mu);
      release = true;
    }
    cv.notify_all();
    bool newest = false;
    for (int i = 0; i < 1000 && !newest; ++i) {
      std::this_thread::sleep_for(10ms);
      std::lock_guard lock(mu);
      newest = !got.empty() && got.back() == kMessages - 1;
    }
    c.stop();
    std::lock_guard lock(mu);
    INFO("received " << got.size() << " messages, " << gaps.size() << " gaps");
    REQUIRE(newest);
    REQUIRE_FALSE(gaps.empty());
    uint64_t skipped = 0;
    for (const auto& g : gaps) {
      CHECK(g.channel == channel);
      CHECK(g.skipped > 0);
      skipped += g.skipped;
    }
    for (size_t i = 1; i < got.size(); ++i) CHECK(got[i] > got[i - 1]);  // cursor order, no duplicate
    CHECK(got.size() + skipped == static_cast<size_t>(kMessages));
    CHECK(got.size() < static_cast<size_t>(kMessages) / 2);
  }
  std::remove(config.c_str());
}
