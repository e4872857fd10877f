#include "src/hub.h"

#include "src/clock.h"
#include "src/presence.h"

namespace herald {

Hub::Hub(HistoryLimits limits, Metrics& metrics, size_t ring_capacity)
    : history_(limits), metrics_(metrics), ring_(ring_capacity), unread_(ring_capacity) {}

Hub::Hub(HistoryLimitsFn limits, Metrics& metrics, size_t ring_capacity)
    : history_(std::move(limits)), metrics_(metrics), ring_(ring_capacity), unread_(ring_capacity) {}

void Hub::add_loop(LoopWaker* loop) {
  std::lock_guard lock(loops_mu_);
  loops_.push_back(loop);
  readers_ = static_cast<uint32_t>(loops_.size());
}

void Hub::detach_loops() {
  std::lock_guard lock(loops_mu_);
  loops_.clear();
  readers_ = 0;
}

void Hub::wake_loops() {
  std::lock_guard lock(loops_mu_);
  for (auto* loop : loops_) loop->wake();
}

void Hub::on_message(MessagePtr message) {
  const int64_t now = unix_ms();
  history_.append(message, now);
  if (now - last_expiry_ms_ >= 1000) {
    history_.expire(now);
    last_expiry_ms_ = now;
  }
  {
    std::lock_guard lock(ring_mu_);
    ring_[ring_next_ % ring_.size()] = std::move(message);
    unread_[ring_next_ % ring_.size()] = readers_.load();
    ++ring_next_;
  }
  wake_loops();
}

void Hub::on_epoch(const std::string& epoch) { history_.set_epoch(epoch); }

void Hub::on_node_state(std::string_view payload) {
  if (presence_) presence_->on_node_state(payload);
}

void Hub::push_event(MessagePtr event) {
  {
    std::lock_guard lock(ring_mu_);
    ring_[ring_next_ % ring_.size()] = std::move(event);
    unread_[ring_next_ % ring_.size()] = readers_.load();
    ++ring_next_;
  }
  wake_loops();
}

bool Hub::read(uint64_t& next, std::vector<MessagePtr>& out) {
  std::lock_guard lock(ring_mu_);
  bool complete = true;
  if (ring_next_ - next > ring_.size()) {
    next = ring_next_ - ring_.size();
    complete = false;
  }
  for (; next < ring_next_; ++next) {
    const size_t slot = next % ring_.size();
    // Without this, a ring of 65536 slots kept that many messages (large ones: GBs)
    // alive long after every loop had sent them.
    if (unread_[slot] > 0 && --unread_[slot] == 0) {
      out.push_back(std::move(ring_[slot]));
    } else {
      out.push_back(ring_[slot]);
    }
  }
  return complete;
}

uint64_t Hub::ring_position() const {
  std::lock_guard lock(ring_mu_);
  return ring_next_;
}

void Hub::channel_ref(const std::string& channel) {
  bool first = false;
  {
    std::lock_guard lock(refs_mu_);
    first = refs_[channel]++ == 0;
  }
  if (first && broker_) broker_->channel_active(channel);
}

void Hub::channel_unref(const std::string& channel) {
  bool last = false;
  {
    std::lock_guard lock(refs_mu_);
    auto it = refs_.find(channel);
    if (it == refs_.end()) return;
    if (--it->second == 0) {
      refs_.erase(it);
      last = true;
    }
  }
  if (last && broker_) broker_->channel_idle(channel);
}

std::map<std::string, uint64_t> Hub::local_counts(const std::string& prefix) const {
  std::map<std::string, uint64_t> out;
  std::lock_guard lock(refs_mu_);
  for (auto it = refs_.lower_bound(prefix); it != refs_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
    out.emplace_hint(out.end(), it->first, it->second);
  return out;
}

}  // namespace herald
