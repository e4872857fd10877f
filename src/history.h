#pragma once
// Per-channel history of recent messages. Each message is held once (a shared
// pointer in its channel's ring), never per subscriber. Bounded by a count per
// channel and by age; a channel whose messages all aged out is forgotten, and the
// newest cursor it ever evicted is folded into `forgotten_upto_` so a resume from
// before it is still reported as not recovered.
//
// Thread-safety: every method may be called from any thread (one mutex); the broker
// thread appends, the loops read.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "src/cursor.h"
#include "src/message.h"

namespace herald {

struct HistoryLimits {
  size_t per_channel = 1000;
  std::chrono::milliseconds max_age{std::chrono::hours(1)};
};

struct Replay {
  bool recovered = true;          // false: the cursor was older than history or from another epoch
  std::vector<MessagePtr> messages;  // after the cursor, in cursor order, at most `limit`
  bool truncated = false;         // more messages remained than `limit`
  Cursor head;                    // newest cursor in the log when the replay was taken
};

// Limits per channel (its namespace's policy).
using HistoryLimitsFn = std::function<HistoryLimits(std::string_view channel)>;

class History {
 public:
  explicit History(HistoryLimits limits) : limits_([limits](std::string_view) { return limits; }) {}
  explicit History(HistoryLimitsFn limits) : limits_(std::move(limits)) {}

  void set_epoch(const std::string& epoch);  // drops everything if the epoch changes
  void append(const MessagePtr& message, int64_t now_ms);
  void expire(int64_t now_ms);

  // Messages of `channels` with a cursor after `since` (all of them when `since` is
  // empty: then nothing is replayed and only `head` matters).
  [[nodiscard]] Replay since(const std::vector<std::string>& channels, const std::optional<Cursor>& since,
                             size_t limit) const;
  [[nodiscard]] Cursor head() const;
  [[nodiscard]] size_t size() const;
  [[nodiscard]] size_t channel_count() const;

 private:
  struct ChannelLog {
    std::deque<MessagePtr> messages;
    uint64_t evicted_upto = 0;  // newest seq dropped from this channel
    size_t per_channel = 0;
    int64_t max_age_ms = 0;
  };
  void evict_front(ChannelLog& log);
  void expire_locked(int64_t now_ms);

  HistoryLimitsFn limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, ChannelLog> channels_;
  uint64_t forgotten_upto_ = 0;
  Cursor head_;
  size_t size_ = 0;
};

}  // namespace herald
