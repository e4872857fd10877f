#pragma once
// What the inspector page shows about one node, as one JSON snapshot a second:
// connections by transport, the channels with the most subscribers, publish and
// delivery rates, the broker's state and lag, slow-consumer events.
//
// Pure logic over samples the caller takes (src/server/inspect_feed.cpp samples the
// metrics and asks every event loop for its channels); no threads, no sockets.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/broker.h"
#include "src/metrics.h"

namespace herald {

// The node's counters at one instant (Metrics holds relaxed atomics).
struct InspectSample {
  int64_t at_ms = 0;  // steady clock
  int64_t connections[kTransportKinds] = {};
  int64_t http_connections = 0;
  uint64_t published = 0;
  uint64_t publish_errors = 0;
  uint64_t delivered[kTransportKinds] = {};
  uint64_t slow_consumer_drops = 0;
  uint64_t conflated = 0;
  uint64_t loop_overflows = 0;
  uint64_t limit_refusals = 0;
  uint64_t rate_limited = 0;

  static InspectSample read(const Metrics& metrics, int64_t at_ms);
};

struct ChannelCount {
  std::string channel;
  uint64_t subscribers = 0;
};

// Node-wide subscribers per channel, summed from every loop's own index.
class ChannelTally {
 public:
  void add(const std::string& channel, uint64_t subscribers);
  // The `n` channels with the most subscribers; ties by name, so the order is stable.
  [[nodiscard]] std::vector<ChannelCount> top(size_t n) const;
  [[nodiscard]] size_t channels() const { return counts_.size(); }
  [[nodiscard]] uint64_t subscriptions() const { return subscriptions_; }

 private:
  std::unordered_map<std::string, uint64_t> counts_;
  uint64_t subscriptions_ = 0;
};

// What the snapshot says besides counters.
struct InspectNodeState {
  std::string node;
  std::string broker_kind;  // "memory" or "rabbitmq"
  BrokerStatus broker;
  size_t history_messages = 0;
  size_t history_channels = 0;
  bool draining = false;
  int64_t inspectors = 0;  // open inspector streams: SSE connections, but not subscribers
  int64_t unix_ms = 0;
};

class InspectStats {
 public:
  explicit InspectStats(size_t top_channels = 20, size_t max_events = 20)
      : top_channels_(top_channels), max_events_(max_events) {}

  // Takes this second's sample and returns the snapshot. Rates are per second since
  // the previous sample (null in the first snapshot, or after reset()).
  [[nodiscard]] std::string update(const InspectSample& now, const ChannelTally& channels,
                                   const InspectNodeState& state);
  // Nobody watched for a while: the next rates must not average over the gap.
  void reset() { previous_.reset(); }

 private:
  struct Event {
    int64_t unix_ms;
    const char* kind;
    uint64_t count;
  };
  void note(int64_t unix_ms, const char* kind, uint64_t before, uint64_t now);

  size_t top_channels_;
  size_t max_events_;
  std::optional<InspectSample> previous_;
  std::deque<Event> events_;  // newest first, at most max_events_
};

}  // namespace herald
