#pragma once
// The node's core: receives the log from the broker, keeps history, and hands every
// message to every event loop through one bounded dispatch ring. Loops pull from the
// ring when woken, so a publish costs one ring slot and one wake-up per loop, however
// many subscribers there are; each loop then fans out to its own connections.
//
// The ring is the bounded queue between the broker thread and the loops: when a loop
// falls more than `ring_capacity` messages behind, read() reports it and that loop
// closes its streaming sessions, whose clients resume from their cursor through
// history. Nothing blocks the broker thread.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/broker.h"
#include "src/history.h"
#include "src/metrics.h"

namespace herald {

class Presence;

// Implemented by an event loop: wake up and pull from the ring. Any thread.
class LoopWaker {
 public:
  virtual ~LoopWaker() = default;
  virtual void wake() = 0;
};

class Hub final : public BrokerSink {
 public:
  Hub(HistoryLimits limits, Metrics& metrics, size_t ring_capacity = size_t{1} << 16);
  Hub(HistoryLimitsFn limits, Metrics& metrics, size_t ring_capacity = size_t{1} << 16);

  void set_broker(Broker* broker) { broker_ = broker; }
  // Before the broker starts; null: no presence on this node.
  void set_presence(Presence* presence) { presence_ = presence; }
  [[nodiscard]] Presence* presence() const { return presence_; }
  void add_loop(LoopWaker* loop);  // before the broker starts
  // Before the loops are destroyed: the broker thread may still deliver until it is
  // stopped, and from here on its messages wake nobody. Any thread.
  void detach_loops();

  // BrokerSink: the broker's delivery thread.
  void on_message(MessagePtr message) override;
  void on_epoch(const std::string& epoch) override;
  void on_node_state(std::string_view payload) override;

  // An event without a cursor (presence): into the ring for every loop, not into
  // history. Any thread.
  void push_event(MessagePtr event);

  // Loop side: appends the messages from ring position `next` on and advances it.
  // Returns false when some were already overwritten (the loop lagged too far).
  // The last registered loop to read a slot empties it, so the ring holds only
  // messages some loop has yet to fan out, not the last `ring_capacity` ones.
  [[nodiscard]] bool read(uint64_t& next, std::vector<MessagePtr>& out);
  [[nodiscard]] uint64_t ring_position() const;

  // Node-wide count of local subscriptions per channel (one per session); the broker
  // hears the first and last. Any thread.
  void channel_ref(const std::string& channel);
  void channel_unref(const std::string& channel);
  // Those counts for the channels starting with `prefix`. Any thread.
  [[nodiscard]] std::map<std::string, uint64_t> local_counts(const std::string& prefix) const;

  History& history() { return history_; }
  const History& history() const { return history_; }
  Metrics& metrics() { return metrics_; }

 private:
  void wake_loops();

  History history_;
  Metrics& metrics_;
  Broker* broker_ = nullptr;
  Presence* presence_ = nullptr;
  std::mutex loops_mu_;  // held while waking, so detach_loops() waits out a wake in progress
  std::vector<LoopWaker*> loops_;
  std::atomic<uint32_t> readers_{0};  // loops_.size(), readable without loops_mu_

  mutable std::mutex ring_mu_;
  std::vector<MessagePtr> ring_;
  std::vector<uint32_t> unread_;  // per slot: registered loops that have not read it yet
  uint64_t ring_next_ = 0;
  int64_t last_expiry_ms_ = 0;

  mutable std::mutex refs_mu_;
  std::map<std::string, uint64_t> refs_;  // ordered: counts are listed by prefix
};

}  // namespace herald
