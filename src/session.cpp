#include "src/session.h"

#include <algorithm>

#include "src/hub.h"
#include "src/local_subscriptions.h"
#include "src/presence.h"

namespace herald {

Session::~Session() { unsubscribe_all(); }

Replay Session::subscribe(const std::vector<std::string>& channels, const std::optional<Cursor>& since,
                          size_t replay_limit, const History& history) {
  std::vector<std::string> fresh;
  std::vector<uint32_t> slots;
  for (const auto& ch : channels) {
    if (subscribed(ch) || std::find(fresh.begin(), fresh.end(), ch) != fresh.end()) continue;
    slots.push_back(index_.add(ch, this));
    fresh.push_back(ch);
  }
  Replay replay = history.since(fresh, since, replay_limit);
  const bool resume = since && since->epoch == replay.head.epoch;
  Presence* presence = index_.hub() ? index_.hub()->presence() : nullptr;
  for (size_t i = 0; i < fresh.size(); ++i) {
    std::string& ch = fresh[i];
    const bool conflates = index_.conflates(ch);
    // Joined after registering, so this client's own join event reaches it too.
    std::shared_ptr<const PresenceMember> present;
    if (member_ && presence && presence->enabled(ch) && presence->join(ch, *member_)) present = member_;
    subs_.push_back(Sub{std::move(ch), resume ? *since : replay.head, conflates, nullptr, 0, std::move(present), slots[i]});
  }
  return replay;
}

bool Session::unsubscribe(const std::string& channel) {
  auto it = std::find_if(subs_.begin(), subs_.end(), [&](const Sub& s) { return s.channel == channel; });
  if (it == subs_.end()) return false;
  index_.remove(channel, this, it->slot);
  drop_held(*it);
  leave_presence(*it);
  subs_.erase(it);
  return true;
}

void Session::unsubscribe_all() {
  for (const auto& s : subs_) {
    index_.remove(s.channel, this, s.slot);
    leave_presence(s);
  }
  subs_.clear();
  held_count_ = 0;
}

void Session::on_slot_moved(const std::string& channel, uint32_t slot) {
  for (auto& s : subs_)
    if (s.channel == channel) s.slot = slot;
}

void Session::drop_held(Sub& s) {
  if (!s.held) return;
  s.held.reset();
  s.skipped = 0;
  --held_count_;
}

void Session::leave_presence(const Sub& sub) {
  if (!sub.present) return;
  if (Presence* presence = index_.hub() ? index_.hub()->presence() : nullptr) presence->leave(sub.channel, sub.present->user);
}

void Session::deliver(const MessagePtr& message) {
  for (auto& s : subs_) {
    if (s.channel != message->channel) continue;
    if (message->kind != MessageKind::Log) {
      wire_.write_message(message);
      return;
    }
    // Same epoch: drop what the client already has. A new epoch is a new log.
    if (s.last.epoch == message->cursor.epoch && message->cursor.seq <= s.last.seq) return;
    s.last = message->cursor;
    if (s.conflates && wire_.backlogged()) {
      if (s.held) {
        ++s.skipped;
      } else {
        if (held_count_++ == 0) wire_.notify_when_empty();
      }
      s.held = message;
      return;
    }
    if (held_count_ > 0) release_held();
    wire_.write_message(message);
    return;
  }
}

void Session::release_held() {
  if (held_count_ == 0) return;
  std::vector<Sub*> held;
  held.reserve(held_count_);
  for (auto& s : subs_)
    if (s.held) held.push_back(&s);
  // Held messages are all newer than anything already written; among themselves,
  // cursor order. (Across an epoch change order means nothing: clients treat the
  // new epoch as a new log.)
  std::sort(held.begin(), held.end(), [](const Sub* a, const Sub* b) { return a->held->cursor.seq < b->held->cursor.seq; });
  held_count_ = 0;
  for (Sub* s : held) {
    MessagePtr m = std::move(s->held);
    const uint64_t skipped = s->skipped;
    s->held.reset();
    s->skipped = 0;
    if (skipped > 0) wire_.write_gap(s->channel, skipped);
    wire_.write_message(m);
  }
}

bool Session::subscribed(const std::string& channel) const {
  return std::any_of(subs_.begin(), subs_.end(), [&](const Sub& s) { return s.channel == channel; });
}

std::vector<std::string> Session::channels() const {
  std::vector<std::string> out;
  for (const auto& s : subs_) out.push_back(s.channel);
  return out;
}

}  // namespace herald
