#pragma once
// Publishes the workload at a steady rate from its own thread: message k goes to
// channel <prefix><k % channels> with its send time in the data. When the rate is
// more than one request can carry in time, messages due together go in one batch
// (POST /api/publish with an array, at most 1000), all stamped just before sending.
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace herald::bench {

struct PublishPlan {
  std::string origin;  // http://host:port
  std::string prefix;  // channel name before the channel number
  uint32_t channels = 1;
  uint64_t messages = 0;
  double rate = 1000;
  size_t size = 100;
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
  [[nodiscard]] bool done() const { return done_.load(std::memory_order_acquire); }
  // After join(): messages the server did not acknowledge, and why.
  [[nodiscard]] uint64_t failed() const { return failed_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] int64_t first_us() const { return first_us_; }
  [[nodiscard]] int64_t last_us() const { return last_us_; }

 private:
  void run();

  PublishPlan plan_;
  std::thread thread_;
  std::atomic<uint64_t> sent_{0};
  std::atomic<bool> done_{false};
  uint64_t failed_ = 0;
  std::string error_;
  int64_t first_us_ = 0;
  int64_t last_us_ = 0;
};

int64_t realtime_us();

}  // namespace herald::bench
