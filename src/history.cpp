#include "src/history.h"

#include <algorithm>

namespace herald {

void History::set_epoch(const std::string& epoch) {
  std::lock_guard lock(mu_);
  if (head_.epoch == epoch) return;
  channels_.clear();
  forgotten_upto_ = 0;
  size_ = 0;
  head_ = Cursor{epoch, 0};
}

void History::evict_front(ChannelLog& log) {
  log.evicted_upto = std::max(log.evicted_upto, log.messages.front()->cursor.seq);
  log.messages.pop_front();
  --size_;
}

void History::append(const MessagePtr& message, int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (message->cursor.epoch != head_.epoch) {
    channels_.clear();
    forgotten_upto_ = 0;
    size_ = 0;
  }
  head_ = message->cursor;
  auto& log = channels_[message->channel];
  log.messages.push_back(message);
  ++size_;
  if (log.per_channel == 0) {  // first message of this channel: look its policy up once
    const HistoryLimits limits = limits_(message->channel);
    log.per_channel = limits.per_channel;
    log.max_age_ms = limits.max_age.count();
  }
  while (log.messages.size() > log.per_channel) evict_front(log);
  (void)now_ms;
}

void History::expire(int64_t now_ms) {
  std::lock_guard lock(mu_);
  expire_locked(now_ms);
}

void History::expire_locked(int64_t now_ms) {
  for (auto it = channels_.begin(); it != channels_.end();) {
    auto& log = it->second;
    const int64_t oldest_kept = now_ms - log.max_age_ms;
    while (!log.messages.empty() && log.messages.front()->ts_ms < oldest_kept) evict_front(log);
    if (log.messages.empty()) {
      forgotten_upto_ = std::max(forgotten_upto_, log.evicted_upto);
      it = channels_.erase(it);
    } else {
      ++it;
    }
  }
}

Replay History::since(const std::vector<std::string>& channels, const std::optional<Cursor>& since,
                      size_t limit) const {
  Replay out;
  std::lock_guard lock(mu_);
  out.head = head_;
  if (!since) return out;
  if (since->epoch != head_.epoch) {
    out.recovered = false;
    return out;
  }
  // A cursor ahead of this node's head comes from a node further along the same log:
  // nothing to replay, and what arrives later is filtered by the subscriber's cursor.
  const uint64_t after = since->seq;
  auto by_seq = [](const MessagePtr& m, uint64_t seq) { return m->cursor.seq < seq; };
  for (const auto& name : channels) {
    auto it = channels_.find(name);
    const uint64_t lost_upto = it == channels_.end() ? forgotten_upto_ : it->second.evicted_upto;
    if (after < lost_upto) out.recovered = false;
    if (it == channels_.end()) continue;
    const auto& msgs = it->second.messages;
    auto first = std::lower_bound(msgs.begin(), msgs.end(), after + 1, by_seq);
    out.messages.insert(out.messages.end(), first, msgs.end());
  }
  std::sort(out.messages.begin(), out.messages.end(),
            [](const MessagePtr& a, const MessagePtr& b) { return a->cursor.seq < b->cursor.seq; });
  if (out.messages.size() > limit) {
    out.messages.resize(limit);
    out.truncated = true;
  }
  return out;
}

Cursor History::head() const {
  std::lock_guard lock(mu_);
  return head_;
}

size_t History::size() const {
  std::lock_guard lock(mu_);
  return size_;
}

size_t History::channel_count() const {
  std::lock_guard lock(mu_);
  return channels_.size();
}

}  // namespace herald
