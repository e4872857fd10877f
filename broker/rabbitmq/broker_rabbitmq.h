#pragma once
// RabbitBroker: the Broker for a cluster of Herald nodes, with RabbitMQ (3.10+) as the
// shared, ordered log.
//
// The log is one stream queue (x-queue-type=stream) bound with "#" to a durable topic
// exchange. Every node publishes into the exchange and consumes the whole stream; the
// stream offset of a message (the x-stream-offset header of each delivery) is the seq
// of its cursor, so all nodes see one order and give a message the same cursor. Every
// node declares the queue with identical arguments (RabbitMQ refuses a declare whose
// arguments differ from the existing queue's).
//
// Epoch. Offsets restart from 0 when the stream is deleted and created again, so the
// epoch must change exactly then, and be the same on every node. It lives in a second,
// tiny stream, "<queue>.epoch", as a chain of records "epoch N replaces epoch P":
//  * on every connect a node reads that stream from its start and folds the records: a
//    record counts only if its P is the epoch in force when it is read. Nodes that
//    write competing records at once therefore still agree (the first in stream order
//    wins), and the fold never depends on timing;
//  * a node writes a record (a fresh random N, P = the epoch in force) when the chain
//    is empty or when its passive declare finds the log queue missing, i.e. it is
//    about to create the log. The record is written and read back before the node
//    declares the log, so any node that finds the log existing already finds its epoch
//    (and a node that found it missing looks again after reading the chain, so that
//    two nodes recreating the log at once usually settle on one new epoch, not two);
//  * the node stays subscribed to the epoch stream: when another node starts a new
//    epoch (because the log was deleted), this node sees it, tells the sink through
//    on_epoch(), and consumes the new log from its start.
// A stream rather than a classic queue because reading it consumes nothing, many nodes
// can read it at once, and its order settles races; it has no max-age and a large byte
// limit, so records are never expired. Not covered: someone deleting and recreating
// the log by hand while no Herald node is connected (no node sees it missing), and a
// broker crash that loses the unsynced end of the log (offsets are then reused
// under the same epoch; a clean stop or a killed broker process loses nothing).
//
// Threads. One thread owns the AMQP connection (rabbitmq-c is not thread-safe) and
// does everything: publishing (other threads hand messages over through a bounded
// queue and an eventfd), reading publisher confirms, consuming the log, calling the
// sink, answering `done`, reconnecting. The loop wakes at least every heartbeat/4 so
// the library answers heartbeats.
//
// Delivery. Messages carry a message-id (node id + counter); a message republished
// after a reconnect may be stored twice, and every node drops the second copy because
// it remembers the last `dedup_window` ids it delivered. (A node whose warm-up begins
// between the two copies delivers the second one, at its own offset; the copies are
// seconds apart, so this needs a start in that instant.) After a reconnect a node
// resumes at its last offset + 1. At start it begins about `history_warmup` messages
// before the end, so its history can serve resumes at once. The end is found by a
// short-lived consumer attached at "last" (the start of the last chunk); a passive
// declare's message count will not do, as it counts the messages retention kept,
// not the offsets used. The same probe, every 5 s, gives status().lag.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker/broker.h"
#include "broker/rabbitmq/amqp_url.h"
#include "broker/rabbitmq/publish_pipeline.h"
#include "broker/rabbitmq/stream_log.h"

namespace herald {

class AmqpConnection;
struct AmqpEvent;
struct AmqpMessage;
class FieldTable;

struct RabbitOptions {
  // Topology: must be the same on every node of a cluster.
  std::string exchange = "herald";
  std::string queue = "herald.log";  // the epoch stream is "<queue>.epoch"
  std::string max_age = "1h";        // x-max-age of the log
  int64_t max_length_bytes = 1'000'000'000;
  int64_t segment_size_bytes = 8'000'000;  // small segments make broker restarts fast

  // Consuming.
  uint16_t prefetch = 500;          // 200 to 1000 works; acks go every prefetch/2
  uint32_t history_warmup = 1000;   // messages replayed at start; 0 = only new ones
  size_t dedup_window = 100'000;    // message-ids remembered to drop republished copies

  // Publishing.
  size_t publish_queue_limit = 10'000;  // messages accepted and not yet answered
  uint32_t max_unconfirmed = 1000;      // messages on the wire without a confirm
  std::chrono::milliseconds publish_timeout{10'000};  // submit to answer, at most
  std::chrono::milliseconds reconnect_grace{5'000};   // in-flight publishes wait this long for a reconnect

  // Connection.
  std::chrono::seconds heartbeat{10};
  std::chrono::milliseconds io_timeout{10'000};  // connect, login, each synchronous call
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5'000};
  std::chrono::milliseconds start_wait{10'000};  // start() waits this long for a first connection

  std::string node_id;  // prefix of message-ids; empty = random. Unique per process.
};

class RabbitBroker final : public Broker {
 public:
  // `url`: amqp://user:pass@host:port/vhost (see parse_amqp_url). Throws
  // std::invalid_argument on a malformed URL or options. Connects only in start().
  explicit RabbitBroker(const std::string& url, RabbitOptions options = {});
  ~RabbitBroker() override;

  // Starts the connection thread and waits up to options.start_wait for the first
  // connection. Throws std::runtime_error when RabbitMQ refuses the configuration
  // (login, vhost, queue arguments that differ from the existing queue's); an
  // unreachable broker is not an error: start() returns and the thread keeps trying,
  // epoch() stays empty and publishes get 503 until the first connection, and the
  // sink hears on_epoch() before the first message (and again if the log is
  // recreated).
  void start(BrokerSink& sink) override;
  // Closes the connection politely and joins the thread (waits at most io_timeout
  // for a broker that stopped answering); unanswered publishes get 503.
  void stop() override;
  void publish(std::vector<PublishItem> items, PublishDone done) override;
  std::string epoch() const override;
  BrokerStatus status() const override;
  // Node state goes through a fanout exchange "<exchange>.presence" to one private
  // queue per node (exclusive, auto-delete: it vanishes with the node's connection),
  // published and consumed on the connection thread. Dropped while disconnected and
  // when more than 1000 payloads wait.
  void publish_node_state(std::string payload) override;

  const std::string& node_id() const { return node_id_; }
  // Second copies of republished messages dropped so far. Any thread.
  uint64_t duplicates_dropped() const { return duplicates_.load(); }

 private:
  enum class State { connecting, up, down };
  enum class StartOutcome { pending, up, failed };
  using Clock = std::chrono::steady_clock;

  // Connection thread.
  void run();
  void session();
  void establish_epoch(std::optional<uint32_t>& log_count);
  void adopt_epoch(const std::string& epoch, bool log_recreated);
  void loop();
  bool pump_until(const std::function<bool()>& done, Clock::time_point deadline);
  void dispatch(AmqpEvent& event);
  void on_log_message(AmqpMessage& message);
  void on_epoch_record(const AmqpMessage& message);
  void send_publishes();
  // Node state (broker_rabbitmq_node_state.cpp).
  static constexpr uint16_t kNodeStateChannel = 5;
  void send_node_states();
  void open_node_state();
  void on_node_state(const AmqpMessage& message);
  void flush_acks();
  void start_tail_probe();
  void on_tail_probe(const AmqpMessage& message);
  void update_lag();
  void wait_readable(std::chrono::milliseconds timeout);
  void wait_backoff(std::chrono::milliseconds delay, Clock::time_point down_since);
  void drain_wake();
  void wake();
  void set_state(State state, std::string detail);
  // False when start() no longer waits for the outcome.
  bool finish_start(StartOutcome outcome, const std::string& error);
  FieldTable log_arguments() const;
  FieldTable start_offset(std::string& description);

  AmqpUrl url_;
  RabbitOptions options_;
  std::string node_id_;
  std::string epoch_queue_;
  uint16_t ack_every_;

  BrokerSink* sink_ = nullptr;
  std::thread thread_;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  PublishPipeline pipeline_;

  // Node-state payloads from any thread to the connection thread.
  std::mutex node_state_mutex_;
  std::vector<std::string> node_state_out_;  // guarded by node_state_mutex_
  std::atomic<bool> node_state_open_{false};

  // Start handshake between start() and the connection thread.
  std::mutex start_mutex_;
  std::condition_variable start_cv_;
  StartOutcome start_outcome_ = StartOutcome::pending;  // guarded by start_mutex_
  std::string start_error_;                             // guarded by start_mutex_
  bool start_returned_ = false;                          // guarded by start_mutex_

  // Status, read from any thread.
  std::atomic<State> state_{State::down};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> confirms_{0};
  std::atomic<uint64_t> lag_{0};
  std::atomic<uint64_t> duplicates_{0};
  mutable std::mutex status_mutex_;
  std::string detail_ = "not started";  // guarded by status_mutex_
  std::string epoch_;                   // written under status_mutex_ by the connection thread only

  // Connection thread only.
  std::unique_ptr<AmqpConnection> conn_;
  bool running_ = false;        // the session is past set-up and consuming the log
  uint64_t sessions_up_ = 0;
  EpochChain chain_;
  std::string own_record_id_;   // epoch record this node wrote on the current connection
  bool own_record_seen_ = false;
  uint64_t epoch_records_read_ = 0;
  Clock::time_point last_epoch_record_at_{};
  std::optional<uint64_t> last_offset_;  // last log offset consumed in the current epoch
  std::optional<uint64_t> resume_from_;  // where consuming began, while nothing is consumed yet
  bool from_first_ = false;     // read the log from its start (it is new to this node)
  std::optional<uint64_t> tail_offset_;  // first offset of the log's last chunk, when probed
  std::string tail_probe_tag_;            // consumer tag of the probe under way, if any
  uint64_t tail_probes_ = 0;
  RecentIds recent_ids_;
  uint64_t next_publish_tag_ = 1;
  uint64_t last_delivery_tag_ = 0;
  uint32_t unacked_ = 0;
  bool warned_foreign_ = false;
};

}  // namespace herald
