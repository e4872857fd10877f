#include "src/session.h"

#include <algorithm>

#include "src/local_subscriptions.h"

namespace herald {

Session::~Session() { unsubscribe_all(); }

Replay Session::subscribe(const std::vector<std::string>& channels, const std::optional<Cursor>& since,
                          size_t replay_limit, const History& history) {
  std::vector<std::string> fresh;
  for (const auto& ch : channels) {
    if (subscribed(ch) || std::find(fresh.begin(), fresh.end(), ch) != fresh.end()) continue;
    index_.add(ch, this);
    fresh.push_back(ch);
  }
  Replay replay = history.since(fresh, since, replay_limit);
  const bool resume = since && since->epoch == replay.head.epoch;
  for (auto& ch : fresh) subs_.push_back(Sub{std::move(ch), resume ? *since : replay.head});
  return replay;
}

bool Session::unsubscribe(const std::string& channel) {
  auto it = std::find_if(subs_.begin(), subs_.end(), [&](const Sub& s) { return s.channel == channel; });
  if (it == subs_.end()) return false;
  index_.remove(channel, this);
  subs_.erase(it);
  return true;
}

void Session::unsubscribe_all() {
  for (const auto& s : subs_) index_.remove(s.channel, this);
  subs_.clear();
}

void Session::deliver(const MessagePtr& message) {
  for (auto& s : subs_) {
    if (s.channel != message->channel) continue;
    // Same epoch: drop what the client already has. A new epoch is a new log.
    if (s.last.epoch == message->cursor.epoch && message->cursor.seq <= s.last.seq) return;
    s.last = message->cursor;
    wire_.write_message(message);
    return;
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
