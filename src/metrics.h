#pragma once
// Counters shared by every thread: relaxed atomics, read only to render /metrics.
#include <atomic>
#include <cstdint>
#include <string>

namespace herald {

enum class TransportKind { Sse = 0, LongPoll = 1, WebSocket = 2 };
inline constexpr int kTransportKinds = 3;
const char* transport_name(TransportKind kind);

struct Metrics {
  std::atomic<int64_t> connections[kTransportKinds] = {};
  std::atomic<uint64_t> connections_total[kTransportKinds] = {};
  std::atomic<int64_t> http_connections{0};
  std::atomic<uint64_t> published{0};
  std::atomic<uint64_t> publish_errors{0};
  std::atomic<uint64_t> delivered[kTransportKinds] = {};
  std::atomic<uint64_t> slow_consumer_drops{0};
  std::atomic<uint64_t> conflated{0};        // messages replaced by a newer one for a slow "latest" subscriber
  std::atomic<uint64_t> loop_overflows{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> client_errors{0};
  std::atomic<uint64_t> limit_refusals{0};   // connections refused by a limit
  std::atomic<uint64_t> rate_limited{0};     // client publishes refused by the rate limit
};

}  // namespace herald
