#pragma once
// Small pieces of state about the RabbitMQ stream that serves as Herald's log: which
// epoch it belongs to (EpochChain) and which message-ids it delivered lately (RecentIds).
// Connection thread only.
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>

namespace herald {

// The epoch of the log, folded from the records of the epoch stream (see
// broker_rabbitmq.h). Each record says "epoch `next` replaces epoch `prev`"; a record
// counts only if `prev` is the epoch in force when it is read, so nodes that write
// competing records at the same moment still agree: the first one in stream order wins.
class EpochChain {
 public:
  // Returns true when the record changed the current epoch.
  bool apply(std::string_view prev, std::string_view next);
  const std::string& current() const { return current_; }
  void reset() { current_.clear(); }

 private:
  std::string current_;
};

// True for a valid epoch: [A-Za-z0-9_]+, at most 32 characters.
bool valid_epoch(std::string_view epoch);

// `length` random lowercase hex digits.
std::string random_hex(size_t length);

// Remembers the last `capacity` message-ids delivered, to drop the second copy of a
// message republished after a reconnect. Every node sees the same log, so every node
// that saw the first copy drops the second alike.
class RecentIds {
 public:
  explicit RecentIds(size_t capacity) : capacity_(capacity) {}
  // True (and remembered) when `id` is not among the recent ones.
  bool insert(const std::string& id);
  void clear();
  size_t size() const { return order_.size(); }

 private:
  size_t capacity_;
  std::unordered_set<std::string> ids_;
  std::deque<std::string> order_;
};

}  // namespace herald
