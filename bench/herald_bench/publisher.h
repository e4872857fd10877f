#pragma once
// Publishes a workload from its own threads: message k goes to channel
// <prefix><k % channels> with its send time in the data.
//
// Batched (Herald only, the default): one connection at a steady rate; when the
// rate is more than one request can carry in time, messages due together go in one
// batch (POST /api/publish with an array, at most 1000), all stamped just before
// sending.
// Single: one message per request, as nchan takes them (POST /pub/<channel>, the
// body is the message) and, for a like-for-like comparison, Herald too. Several
// keep-alive connections share the channels (channel c on connection c % n), so each
// channel's messages still leave, and arrive, in order.
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace herald::bench {

struct PublishPlan {
  std::string origin;  // http://host:port
  std::string prefix;  // channel name before the channel number
  uint32_t channels = 1;
  uint64_t messages = 0;
  double rate = 1000;  // messages per second; 0: each as soon as the previous one was acknowledged
  size_t size = 100;
  uint64_t first = 0;              // index of the first message
  std::string dialect = "herald";  // or nchan (always single)
  bool single = false;
  unsigned connections = 4;  // single: connections at most (never more than channels)
};

class Publisher {
 public:
  explicit Publisher(PublishPlan plan) : plan_(std::move(plan)) {}
  ~Publisher() { join(); }
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  void start();
  void join();

  // Readable from any thread while it runs.
  [[nodiscard]] uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  [[nodiscard]] bool done() const { return running_.load(std::memory_order_acquire) == 0; }
  // After join(): messages the server did not acknowledge, and why.
  [[nodiscard]] uint64_t failed() const { return failed_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] int64_t first_us() const { return first_us_; }
  [[nodiscard]] int64_t last_us() const { return last_us_; }

 private:
  struct Lane {  // one connection's share
    unsigned index = 0;
    uint64_t failed = 0;
    std::string error;
    int64_t first_us = 0;
    int64_t last_us = 0;
  };
  void run_batched(Lane& lane);
  void run_single(Lane& lane, unsigned lanes);

  PublishPlan plan_;
  std::vector<std::thread> threads_;
  std::vector<Lane> lanes_;
  std::atomic<uint64_t> sent_{0};
  std::atomic<unsigned> running_{0};
  uint64_t failed_ = 0;
  std::string error_;
  int64_t first_us_ = 0;
  int64_t last_us_ = 0;
};

int64_t realtime_us();

}  // namespace herald::bench
