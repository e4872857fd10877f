#include "bench/herald_bench/publisher.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "bench/herald_bench/wire.h"

namespace herald::bench {

int64_t realtime_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Publisher::start() { thread_ = std::thread([this] { run(); }); }

void Publisher::join() {
  if (thread_.joinable()) thread_.join();
}

void Publisher::run() {
  using Clock = std::chrono::steady_clock;
  httplib::Client http(plan_.origin);
  http.set_keep_alive(true);
  http.set_tcp_nodelay(true);
  http.set_connection_timeout(5, 0);
  http.set_read_timeout(30, 0);
  http.set_write_timeout(30, 0);

  const auto start = Clock::now();
  uint64_t sent = 0;
  std::string body;
  while (sent < plan_.messages) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    // The first message goes at once; message k is due k/rate seconds after it.
    const auto due = std::min<uint64_t>(plan_.messages, static_cast<uint64_t>(std::floor(elapsed * plan_.rate)) + 1);
    if (due <= sent) {
      const auto next = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(static_cast<double>(sent) / plan_.rate));
      std::this_thread::sleep_until(std::min(next, Clock::now() + std::chrono::milliseconds(5)));
      continue;
    }
    const uint64_t n = std::min<uint64_t>(due - sent, 1000);
    const int64_t t = realtime_us();
    body.assign(n > 1 ? "[" : "");
    for (uint64_t k = sent; k < sent + n; ++k) {
      if (k > sent) body += ',';
      body += "{\"channel\":\"" + plan_.prefix + std::to_string(k % plan_.channels) + "\",\"data\":";
      body += bench_data(k, t, plan_.size);
      body += '}';
    }
    if (n > 1) body += ']';
    if (first_us_ == 0) first_us_ = t;
    // A refused or broken connection is retried; an acknowledged publish is never sent twice.
    auto res = http.Post("/api/publish", body, "application/json");
    for (int attempt = 1; attempt < 3 && !res; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      res = http.Post("/api/publish", body, "application/json");
    }
    if (!res || res->status != 200) {
      error_ = res ? "publish answered HTTP " + std::to_string(res->status) + ": " + res->body.substr(0, 200)
                   : "publish failed: " + httplib::to_string(res.error());
      failed_ = plan_.messages - sent;
      break;
    }
    sent += n;
    last_us_ = realtime_us();
    sent_.store(sent, std::memory_order_relaxed);
  }
  done_.store(true, std::memory_order_release);
}

}  // namespace herald::bench
