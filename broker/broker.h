#pragma once
// The Broker moves published messages between nodes and gives each its cursor.
//
// Contract (every implementation keeps it):
//  * Order: all nodes see messages in one order, the order of their cursors, and a
//    message has the same cursor on every node.
//  * Publish: publish() hands the messages over; `done` is called exactly once per
//    call, with one cursor per message in input order, only after the messages are
//    durable in the broker (so an acknowledged publish is never lost), or with an
//    error (nothing of that call was acknowledged; it may still be delivered once).
//  * Delivery: every message reaches the sink exactly once per node, in cursor order,
//    on the broker's own delivery thread. A message published before start() on a
//    shared log may be delivered as history warm-up (the sink cannot tell, nor needs to).
//  * The broker works per node, not per client: the core calls channel_active /
//    channel_idle when a channel gets its first / loses its last local subscriber.
//    Brokers that deliver everything to every node may ignore them.
//  * Node state (presence joins and leaves, periodic per-node snapshots) is a separate,
//    best-effort stream: publish_node_state() hands an opaque payload over without
//    waiting, and the broker delivers it to every node's sink, the sender's included
//    (which recognises and ignores its own), through on_node_state(), in the order each
//    node published. It is not stored and not confirmed: a payload published while the
//    broker is disconnected, or that finds a full queue, is dropped. Senders repeat
//    their full state periodically, so a loss heals with the next snapshot.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "src/cursor.h"
#include "src/message.h"

namespace herald {

struct PublishItem {
  std::string channel;
  std::string data;  // compact JSON text
  int64_t ts_ms = 0;
};

struct BrokerError {
  int http_status = 503;
  std::string message;
};

struct PublishResult {
  bool ok = false;
  std::vector<Cursor> cursors;  // one per item when ok
  BrokerError error;
};

using PublishDone = std::function<void(PublishResult)>;

// Receives every message of the log on this node. Called on the broker's delivery
// thread only, one message at a time, in cursor order.
class BrokerSink {
 public:
  virtual ~BrokerSink() = default;
  virtual void on_message(MessagePtr message) = 0;
  // The log's epoch changed (history lost); the core drops its history.
  virtual void on_epoch(const std::string& epoch) = 0;
  // A node-state payload (see the contract above). Broker thread; keep it short.
  virtual void on_node_state(std::string_view payload) { (void)payload; }
};

struct BrokerStatus {
  std::string state;  // "up", "connecting", "down"
  std::string detail;
  uint64_t reconnects = 0;
  uint64_t confirms = 0;
  uint64_t lag = 0;  // messages known to be in the log but not yet delivered here
  uint64_t pending = 0;  // messages handed to publish() and not yet answered (awaiting confirms)
};

class Broker {
 public:
  virtual ~Broker() = default;
  // Starts delivering to `sink` (which outlives the broker). Called once, at start-up,
  // from the main thread; throws on a configuration error.
  virtual void start(BrokerSink& sink) = 0;
  // Stops delivery and joins the broker's threads; pending publishes get an error.
  virtual void stop() = 0;
  // Any thread. `done` runs on a broker thread (or inline): keep it short, post work.
  virtual void publish(std::vector<PublishItem> items, PublishDone done) = 0;
  // The epoch of cursors this broker issues now. Any thread.
  virtual std::string epoch() const = 0;
  virtual BrokerStatus status() const = 0;
  // Hints from the core; any thread.
  virtual void channel_active(const std::string& /*channel*/) {}
  virtual void channel_idle(const std::string& /*channel*/) {}
  // Best effort, never blocks; any thread (see "Node state" above).
  virtual void publish_node_state(std::string payload) = 0;
};

}  // namespace herald
