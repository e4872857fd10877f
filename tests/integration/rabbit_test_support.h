#pragma once
// Helpers for tests that run RabbitBroker against the real RabbitMQ of
// rabbitmq_fixture.sh: the fixture itself, a sink that records what a node delivers,
// and a publisher thread that keeps publishes in flight and records every answer.
#include <catch2/catch.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "broker/rabbitmq/broker_rabbitmq.h"

#ifndef HERALD_SOURCE_DIR
#error "HERALD_SOURCE_DIR must point at the repository root"
#endif

namespace herald::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The broker for the whole run, started on first use and stopped at exit.
class RabbitFixture {
 public:
  static RabbitFixture& get() {
    static RabbitFixture fixture;
    return fixture;
  }
  std::string url() const { return "amqp://guest:guest@127.0.0.1:" + port_ + "/"; }
  void halt(bool kill) { run(std::string("halt ") + dir_ + (kill ? " --kill" : "")); }
  void start() { run("start " + dir_); }
  void ctl(const std::string& args) { run("ctl " + dir_ + " " + args); }
  void freeze() { run("freeze " + dir_); }
  void thaw() { run("thaw " + dir_); }

  ~RabbitFixture() {
    run("stop " + dir_, false);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

 private:
  RabbitFixture() {
    char tmpl[] = "/tmp/herald-rabbit-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    const auto t0 = Clock::now();
    port_ = run("start " + dir_);
    while (!port_.empty() && (port_.back() == '\n' || port_.back() == ' ')) port_.pop_back();
    spdlog::info("test: RabbitMQ on port {} started in {} ms", port_, ms_since(t0));
  }

  static long ms_since(Clock::time_point t) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
  }

  std::string run(const std::string& args, bool must_succeed = true) {
    const std::string cmd = std::string(HERALD_SOURCE_DIR) + "/tests/integration/rabbitmq_fixture.sh " + args;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) throw std::runtime_error("cannot run " + cmd);
    std::string out;
    char buf[256];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int rc = pclose(p);
    if (must_succeed && rc != 0) throw std::runtime_error(cmd + " failed with status " + std::to_string(rc));
    return out;
  }

  std::string dir_;
  std::string port_;
};

struct Received {
  std::string channel;
  std::string data;
  int64_t ts_ms;
};

// Records what a node's broker delivers: cursor -> message, in arrival order.
class RecordingSink : public BrokerSink {
 public:
  // `delay`: time spent on each message, to make a slow node.
  explicit RecordingSink(std::chrono::microseconds delay = 0us) : delay_(delay) {}

  void on_message(MessagePtr m) override {
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    std::lock_guard lock(mutex_);
    order_.push_back(m->cursor.str());
    log_.emplace(m->cursor.str(), Received{m->channel, m->data, m->ts_ms});
    by_data_[m->data].push_back(m->cursor.str());
    if (last_seq_ && m->cursor.seq <= *last_seq_ && m->cursor.epoch == last_epoch_) ++out_of_order_;
    last_seq_ = m->cursor.seq;
    last_epoch_ = m->cursor.epoch;
    cv_.notify_all();
  }
  void on_epoch(const std::string& epoch) override {
    std::lock_guard lock(mutex_);
    epochs_.push_back(epoch);
  }

  size_t size() const {
    std::lock_guard lock(mutex_);
    return order_.size();
  }
  bool wait_for(size_t count, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return order_.size() >= count; });
  }
  // Waits until nothing has arrived for `quiet`.
  void wait_quiet(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) const {
    const auto end = Clock::now() + timeout;
    size_t last = size();
    while (Clock::now() < end) {
      std::this_thread::sleep_for(quiet);
      const size_t now = size();
      if (now == last) return;
      last = now;
    }
  }
  std::map<std::string, std::string> log() const {
    std::lock_guard lock(mutex_);
    std::map<std::string, std::string> out;
    for (const auto& [cursor, r] : log_) out.emplace(cursor, r.channel + "|" + r.data);
    return out;
  }
  std::map<std::string, std::vector<std::string>> by_data() const {
    std::lock_guard lock(mutex_);
    return by_data_;
  }
  std::vector<std::string> order() const {
    std::lock_guard lock(mutex_);
    return order_;
  }
  std::vector<std::string> epochs() const {
    std::lock_guard lock(mutex_);
    return epochs_;
  }
  int out_of_order() const {
    std::lock_guard lock(mutex_);
    return out_of_order_;
  }

 private:
  std::chrono::microseconds delay_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::vector<std::string> order_;
  std::map<std::string, Received> log_;
  std::map<std::string, std::vector<std::string>> by_data_;
  std::vector<std::string> epochs_;
  std::optional<uint64_t> last_seq_;
  std::string last_epoch_;
  int out_of_order_ = 0;
};

inline RabbitOptions options_for(const std::string& name) {
  RabbitOptions o;
  o.exchange = "test." + name;
  o.queue = "test." + name + ".log";
  o.start_wait = 20s;
  return o;
}

// Publishes one batch and waits for its answer.
inline PublishResult publish_sync(Broker& broker, std::vector<PublishItem> items) {
  auto promise = std::make_shared<std::promise<PublishResult>>();
  auto future = promise->get_future();
  broker.publish(std::move(items), [promise](PublishResult r) { promise->set_value(std::move(r)); });
  if (future.wait_for(30s) != std::future_status::ready) throw std::runtime_error("publish was never answered");
  return future.get();
}

inline PublishItem item(const std::string& channel, const std::string& data) {
  const auto ts = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return PublishItem{channel, data, ts.count()};
}

// One publisher: keeps up to `window` publishes in flight on one broker and records
// every answer.
class Publisher {
 public:
  struct Outcome {
    std::vector<std::string> datas;
    PublishResult result;
    Clock::time_point submitted;
    Clock::time_point answered;
  };

  Publisher(Broker& broker, std::string name, int window, std::chrono::microseconds pause)
      : broker_(broker), name_(std::move(name)), window_(window), pause_(pause) {}
  ~Publisher() { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, 30s, [&] { return in_flight_ == 0; });
  }
  std::vector<Outcome> outcomes() const {
    std::lock_guard lock(mutex_);
    return outcomes_;
  }

 private:
  void run() {
    std::mt19937 rng(std::hash<std::string>()(name_));
    uint64_t n = 0;
    while (!stopping_) {
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return in_flight_ < window_; });
        ++in_flight_;
      }
      const int batch = rng() % 8 == 0 ? 1 + static_cast<int>(rng() % 4) : 1;
      std::vector<PublishItem> items;
      std::vector<std::string> datas;
      for (int i = 0; i < batch; ++i) {
        std::string data = "{\"pub\":\"" + name_ + "\",\"n\":" + std::to_string(n++) + "}";
        items.push_back(item("chan/" + std::to_string(rng() % 5), data));
        datas.push_back(std::move(data));
      }
      const auto submitted = Clock::now();
      broker_.publish(std::move(items), [this, datas, submitted](PublishResult r) {
        std::lock_guard lock(mutex_);
        outcomes_.push_back(Outcome{datas, std::move(r), submitted, Clock::now()});
        --in_flight_;
        cv_.notify_all();
      });
      std::this_thread::sleep_for(pause_);
    }
  }

  Broker& broker_;
  std::string name_;
  int window_;
  std::chrono::microseconds pause_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  std::vector<Outcome> outcomes_;
};

// Every ok answer's cursors name the published data in `sink`, and every message of
// the sink appears there once.
inline void check_outcomes_against(const std::vector<Publisher::Outcome>& outcomes, const RecordingSink& sink,
                            size_t* ok_messages) {
  const auto log = sink.log();
  const auto by_data = sink.by_data();
  for (const auto& [data, cursors] : by_data) {
    INFO("data " << data);
    CHECK(cursors.size() == 1);
  }
  for (const auto& o : outcomes) {
    if (!o.result.ok) continue;
    REQUIRE(o.result.cursors.size() == o.datas.size());
    for (size_t i = 0; i < o.datas.size(); ++i) {
      auto it = log.find(o.result.cursors[i].str());
      INFO("cursor " << o.result.cursors[i].str() << " for " << o.datas[i]);
      REQUIRE(it != log.end());
      CHECK(it->second.substr(it->second.find('|') + 1) == o.datas[i]);
      if (ok_messages) ++*ok_messages;
    }
  }
}

inline std::string unique_name(const std::string& base) {
  return base + "." + std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000007);
}

}  // namespace herald::test
