#pragma once
// The embedded broker: one node, no other service. Publishing assigns the next
// sequence number and delivers to the sink inline, under one mutex, so the order of
// cursors is the order of delivery even with publishers on several loops. The epoch
// is random per process start: history does not survive a restart, and clients
// holding an older cursor are told recovered=false.
#include <atomic>
#include <mutex>
#include <string>

#include "broker/broker.h"

namespace herald {

class MemoryBroker final : public Broker {
 public:
  MemoryBroker();
  void start(BrokerSink& sink) override;
  void stop() override;
  void publish(std::vector<PublishItem> items, PublishDone done) override;
  std::string epoch() const override { return epoch_; }
  BrokerStatus status() const override;
  // One node: the payload comes straight back to the sink, on the caller's thread.
  void publish_node_state(std::string payload) override;

 private:
  std::string epoch_;
  std::mutex mu_;
  BrokerSink* sink_ = nullptr;
  uint64_t next_seq_ = 1;
  std::atomic<uint64_t> published_{0};
};

}  // namespace herald
