#pragma once
// Book-keeping for RabbitBroker's publishes, from publish() on any thread to `done`.
//
// A publish call is answered ok only when each of its messages is both confirmed by
// RabbitMQ (publisher confirms) and seen in the log by this node's own consumer, which
// is what reveals its cursor. Everything else ends in one 503 answer: queue full or
// broker down at submit time, nack, unroutable, timeout, a connection that stays down
// too long, stop.
//
// Threads: submit() and set_accepting() from any thread; everything else only from the
// connection thread. `done` runs on the connection thread, or inline in submit() when
// the call is refused at once.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/broker.h"

namespace herald {

class PublishPipeline {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::string node_id;              // prefix of every message-id; unique per process
    size_t limit = 10000;             // messages accepted and not yet answered
    std::chrono::milliseconds timeout{10000};  // from submit to answer
  };

  // A message ready to go on the wire.
  struct Outgoing {
    const std::string* id;
    const std::string* channel;
    const std::string* data;
    int64_t ts_ms;
  };

  explicit PublishPipeline(Options options);

  // Any thread. Refuses at once (done called inline with 503) when not accepting or
  // when the call would push the pipeline over its limit. Returns true when queued.
  bool submit(std::vector<PublishItem> items, PublishDone done);
  // Any thread. While not accepting, submit() refuses; turning it off also guarantees
  // that take_submitted() sees every call that got past the check.
  void set_accepting(bool accepting);

  // Moves submitted calls into the pipeline (or answers them 503 if accepting was
  // turned off since), giving each message its id and the call its deadline.
  // Returns true when a call arrived and thus the caller should go on sending.
  bool take_submitted();

  // The next message to send, or nullopt. sent() must follow with its delivery tag.
  [[nodiscard]] std::optional<Outgoing> next_to_send();
  void sent(const std::string& id, uint64_t delivery_tag);
  size_t unconfirmed() const { return unconfirmed_.size(); }
  // Messages of publish() calls not yet answered. Any thread.
  size_t pending() const { return in_pipeline_.load(); }
  // True when messages wait to be sent (possibly only stale entries that
  // next_to_send() will skip).
  bool has_to_send() const { return !to_send_.empty(); }

  // Publisher confirms. Return how many messages they confirmed.
  size_t acked(uint64_t delivery_tag, bool multiple);
  void nacked(uint64_t delivery_tag, bool multiple);
  // A mandatory message that no queue took.
  void returned(const std::string& id, const std::string& reason);
  // This node's consumer met the message in the log.
  void seen(const std::string& id, const Cursor& cursor);

  // The connection was lost: messages neither confirmed nor seen go back to the front
  // of the send queue, in their original order, to be sent again on the next
  // connection. Seen ones count as confirmed (the log only hands out stored messages).
  void connection_lost();
  // Answers every call whose deadline passed.
  void expire(Clock::time_point now);
  // Answers every call in the pipeline (and every queued submission) with `error`.
  void fail_all(const BrokerError& error);

  bool has_work() const { return !messages_.empty(); }

 private:
  // The ids an ack or nack with this tag covers, no longer awaiting a confirm.
  std::vector<std::string> take_unconfirmed(uint64_t delivery_tag, bool multiple);
  struct Call {
    PublishDone done;
    std::vector<Cursor> cursors;
    std::vector<std::string> ids;
    size_t remaining = 0;
    Clock::time_point deadline;
    bool finished = false;
  };
  struct Message {
    std::shared_ptr<Call> call;
    size_t index = 0;
    std::string channel;
    std::string data;
    int64_t ts_ms = 0;
    uint64_t tag = 0;  // delivery tag on the current connection; 0 = not sent on it
    bool confirmed = false;
    bool seen = false;
  };
  struct Submitted {
    std::vector<PublishItem> items;
    PublishDone done;
  };

  void confirm(const std::string& id);
  void complete_if_ready(std::unordered_map<std::string, Message>::iterator it);
  void fail_call(std::shared_ptr<Call> call, const BrokerError& error);  // by value: it may own the last reference
  void finish(Call& call, PublishResult result);

  Options options_;

  std::mutex inbox_mutex_;
  bool accepting_ = false;         // guarded by inbox_mutex_
  std::vector<Submitted> inbox_;   // guarded by inbox_mutex_
  std::atomic<size_t> in_pipeline_{0};  // messages of calls not yet answered

  uint64_t counter_ = 0;
  std::unordered_map<std::string, Message> messages_;  // by message-id; unanswered only
  std::deque<std::string> to_send_;            // ids; stale ones are skipped
  std::map<uint64_t, std::string> unconfirmed_;  // delivery tag -> id
  std::deque<std::shared_ptr<Call>> calls_;    // in deadline order
};

}  // namespace herald
