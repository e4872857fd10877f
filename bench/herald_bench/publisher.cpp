#include "bench/herald_bench/publisher.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "bench/herald_bench/wire.h"

namespace herald::bench {
namespace {

using Clock = std::chrono::steady_clock;

httplib::Client client(const std::string& origin) {
  httplib::Client http(origin);
  http.set_keep_alive(true);
  http.set_tcp_nodelay(true);
  http.set_connection_timeout(5, 0);
  http.set_read_timeout(30, 0);
  http.set_write_timeout(30, 0);
  return http;
}

// A refused or broken connection is retried; an acknowledged publish is never sent twice.
httplib::Result post(httplib::Client& http, const std::string& path, const std::string& body) {
  auto res = http.Post(path, body, "application/json");
  for (int attempt = 1; attempt < 3 && !res; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    res = http.Post(path, body, "application/json");
  }
  return res;
}

std::string refusal(const httplib::Result& res) {
  return res ? "publish answered HTTP " + std::to_string(res->status) + ": " + res->body.substr(0, 200)
             : "publish failed: " + httplib::to_string(res.error());
}

}  // namespace

int64_t realtime_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Publisher::start() {
  const bool single = plan_.single || plan_.dialect == "nchan";
  const unsigned lanes = single ? std::max(1u, std::min<unsigned>(plan_.connections, plan_.channels)) : 1;
  lanes_.resize(lanes);
  running_.store(lanes, std::memory_order_release);
  for (unsigned i = 0; i < lanes; ++i) {
    lanes_[i].index = i;
    threads_.emplace_back([this, i, lanes, single] {
      if (single) {
        run_single(lanes_[i], lanes);
      } else {
        run_batched(lanes_[i]);
      }
      running_.fetch_sub(1, std::memory_order_acq_rel);
    });
  }
}

void Publisher::join() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  if (threads_.empty()) return;
  threads_.clear();
  for (const auto& lane : lanes_) {
    failed_ += lane.failed;
    if (error_.empty()) error_ = lane.error;
    if (lane.first_us && (first_us_ == 0 || lane.first_us < first_us_)) first_us_ = lane.first_us;
    last_us_ = std::max(last_us_, lane.last_us);
  }
}

void Publisher::run_batched(Lane& lane) {
  auto http = client(plan_.origin);
  const auto start = Clock::now();
  uint64_t sent = 0;
  std::string body;
  while (sent < plan_.messages) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    // The first message goes at once; message k is due k/rate seconds after it.
    const auto due = plan_.rate <= 0 ? plan_.messages
                                     : std::min<uint64_t>(plan_.messages,
                                                          static_cast<uint64_t>(std::floor(elapsed * plan_.rate)) + 1);
    if (due <= sent) {
      const auto next = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(static_cast<double>(sent) / plan_.rate));
      std::this_thread::sleep_until(std::min(next, Clock::now() + std::chrono::milliseconds(5)));
      continue;
    }
    const uint64_t n = std::min<uint64_t>(due - sent, 1000);
    const int64_t t = realtime_us();
    body.assign(n > 1 ? "[" : "");
    for (uint64_t i = sent; i < sent + n; ++i) {
      const uint64_t k = plan_.first + i;
      if (i > sent) body += ',';
      body += "{\"channel\":\"" + plan_.prefix + std::to_string(k % plan_.channels) + "\",\"data\":";
      body += bench_data(k, t, plan_.size);
      body += '}';
    }
    if (n > 1) body += ']';
    if (lane.first_us == 0) lane.first_us = t;
    auto res = post(http, "/api/publish", body);
    if (!res || res->status != 200) {
      lane.error = refusal(res);
      lane.failed = plan_.messages - sent;
      return;
    }
    sent += n;
    lane.last_us = realtime_us();
    sent_.store(sent, std::memory_order_relaxed);
  }
}

void Publisher::run_single(Lane& lane, unsigned lanes) {
  auto http = client(plan_.origin);
  const bool nchan = plan_.dialect == "nchan";
  const auto start = Clock::now();
  std::string body;
  for (uint64_t i = 0; i < plan_.messages; ++i) {
    const uint64_t k = plan_.first + i;
    const uint64_t channel = k % plan_.channels;
    if (channel % lanes != lane.index) continue;
    if (lane.failed) {
      lane.failed++;
      continue;
    }
    if (plan_.rate > 0)
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(static_cast<double>(i) / plan_.rate)));
    const int64_t t = realtime_us();
    const std::string name = plan_.prefix + std::to_string(channel);
    if (lane.first_us == 0) lane.first_us = t;
    if (!nchan) body = "{\"channel\":\"" + name + "\",\"data\":" + bench_data(k, t, plan_.size) + "}";
    const auto res =
        nchan ? post(http, "/pub/" + name, bench_data(k, t, plan_.size)) : post(http, "/api/publish", body);
    // nchan answers 201 when the channel had subscribers, 202 when it had none.
    if (!res || res->status < 200 || res->status > 202) {
      lane.error = refusal(res);
      lane.failed = 1;
      continue;
    }
    lane.last_us = realtime_us();
    sent_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace herald::bench
