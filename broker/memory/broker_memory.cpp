#include "broker/memory/broker_memory.h"

#include <random>

namespace herald {

MemoryBroker::MemoryBroker() {
  std::random_device rd;
  static const char* alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
  epoch_ = "m";
  for (int i = 0; i < 8; ++i) epoch_.push_back(alphabet[rd() % 36]);
}

void MemoryBroker::start(BrokerSink& sink) {
  std::lock_guard lock(mu_);
  sink_ = &sink;
  sink_->on_epoch(epoch_);
}

void MemoryBroker::stop() {
  std::lock_guard lock(mu_);
  sink_ = nullptr;
}

void MemoryBroker::publish(std::vector<PublishItem> items, PublishDone done) {
  PublishResult result;
  {
    std::lock_guard lock(mu_);
    if (!sink_) {
      result.error = {503, "the broker is stopped"};
    } else {
      result.ok = true;
      for (auto& item : items) {
        Cursor cursor{epoch_, next_seq_++};
        result.cursors.push_back(cursor);
        sink_->on_message(build_message(std::move(item.channel), std::move(cursor), item.ts_ms, std::move(item.data)));
      }
      published_ += items.size();
    }
  }
  done(std::move(result));
}

void MemoryBroker::publish_node_state(std::string payload) {
  BrokerSink* sink = nullptr;
  {
    std::lock_guard lock(mu_);
    sink = sink_;
  }
  if (sink) sink->on_node_state(payload);
}

BrokerStatus MemoryBroker::status() const {
  BrokerStatus s;
  s.state = "up";
  s.detail = "embedded";
  s.confirms = published_.load();
  return s;
}

}  // namespace herald
