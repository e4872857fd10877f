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
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/broker.h"
#include "src/history.h"
#include "src/metrics.h"

namespace herald {

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
  void add_loop(LoopWaker* loop);  // before the broker starts

  // BrokerSink: the broker's delivery thread.
  void on_message(MessagePtr message) override;
  void on_epoch(const std::string& epoch) override;

  // Loop side: appends the messages from ring position `next` on and advances it.
  // Returns false when some were already overwritten (the loop lagged too far).
  [[nodiscard]] bool read(uint64_t& next, std::vector<MessagePtr>& out) const;
  [[nodiscard]] uint64_t ring_position() const;

  // Node-wide count of local subscriptions per channel; the broker hears the first and last.
  void channel_ref(const std::string& channel);
  void channel_unref(const std::string& channel);

  History& history() { return history_; }
  const History& history() const { return history_; }
  Metrics& metrics() { return metrics_; }

 private:
  History history_;
  Metrics& metrics_;
  Broker* broker_ = nullptr;
  std::vector<LoopWaker*> loops_;

  mutable std::mutex ring_mu_;
  std::vector<MessagePtr> ring_;
  uint64_t ring_next_ = 0;
  int64_t last_expiry_ms_ = 0;

  std::mutex refs_mu_;
  std::unordered_map<std::string, uint32_t> refs_;
};

}  // namespace herald
