// Node state (presence and counts) for RabbitBroker: a fanout exchange
// "<exchange>.presence" and one private queue per node, on the connection thread.
#include <spdlog/spdlog.h>

#include "broker/rabbitmq/amqp_connection.h"
#include "broker/rabbitmq/broker_rabbitmq.h"

namespace herald {
namespace {

// Payloads waiting for the connection thread, and how many a node's queue holds (the
// oldest go first; a snapshot follows every couple of seconds anyway). Stale node
// state is worthless, hence the TTL.
constexpr size_t kNodeStateQueue = 1000;
constexpr int64_t kNodeStateQueueLength = 10'000;
constexpr int64_t kNodeStateTtlMs = 30'000;

}  // namespace

void RabbitBroker::publish_node_state(std::string payload) {
  if (!node_state_open_) return;  // best effort: the next snapshot after reconnecting repairs
  {
    std::lock_guard lock(node_state_mutex_);
    if (node_state_out_.size() >= kNodeStateQueue) return;
    node_state_out_.push_back(std::move(payload));
  }
  wake();
}

void RabbitBroker::open_node_state() {
  const std::string exchange = options_.exchange + ".presence";
  conn_->declare_exchange(kNodeStateChannel, exchange, "fanout");
  FieldTable args;
  args.add("x-max-length", kNodeStateQueueLength).add("x-message-ttl", kNodeStateTtlMs);
  const std::string queue = conn_->declare_private_queue(kNodeStateChannel, args);
  conn_->bind_queue(kNodeStateChannel, queue, exchange, "");
  conn_->qos(kNodeStateChannel, 200);
  FieldTable none;
  conn_->consume(kNodeStateChannel, queue, "herald-node-state", none);
  {
    std::lock_guard lock(node_state_mutex_);
    node_state_out_.clear();  // from before this connection: stale
  }
  node_state_open_ = true;
}

void RabbitBroker::send_node_states() {
  std::vector<std::string> out;
  {
    std::lock_guard lock(node_state_mutex_);
    out.swap(node_state_out_);
  }
  const std::string exchange = options_.exchange + ".presence";
  for (const auto& payload : out) conn_->publish_transient(kNodeStateChannel, exchange, payload);
}

void RabbitBroker::on_node_state(const AmqpMessage& message) {
  conn_->ack(kNodeStateChannel, message.delivery_tag, false);
  try {
    sink_->on_node_state(message.body);
  } catch (const std::exception& e) {
    spdlog::error("rabbitmq: the sink failed on node state: {}", e.what());
  }
}

}  // namespace herald
