#include "clients/cpp/cursor_book.h"

#include <algorithm>

namespace herald::client::detail {
namespace {

std::optional<std::string> epoch_of(const std::optional<std::string>& cursor) {
  if (!cursor) return std::nullopt;
  auto parsed = parse_cursor(*cursor);
  if (!parsed) return std::nullopt;
  return parsed->epoch;
}

// `b` if it is newer than `a`, else `a`.
void move_up(std::optional<std::string>& a, const std::string& b) {
  if (!a || is_newer(b, a)) a = b;
}

}  // namespace

bool is_newer(const std::string& a, const std::optional<std::string>& b) {
  if (!b) return true;
  const auto pa = parse_cursor(a);
  const auto pb = parse_cursor(*b);
  if (!pa || !pb) return a != *b;
  return pa->epoch != pb->epoch || pa->seq > pb->seq;
}

bool CursorBook::add(const std::string& channel, const std::optional<std::string>& since) {
  return channels_.emplace(channel, since).second;
}

bool CursorBook::remove(const std::string& channel) { return channels_.erase(channel) != 0; }

std::vector<std::string> CursorBook::channels() const {
  std::vector<std::string> out;
  out.reserve(channels_.size());
  for (const auto& [name, cursor] : channels_) out.push_back(name);
  return out;
}

std::optional<std::string> CursorBook::cursor(const std::string& channel) const {
  auto it = channels_.find(channel);
  return it == channels_.end() ? std::nullopt : it->second;
}

std::optional<std::string> CursorBook::pick_since(const std::vector<std::string>& channels) const {
  std::optional<std::string> epoch = last_epoch_;
  for (size_t i = 0; !epoch && i < channels.size(); ++i) epoch = epoch_of(cursor(channels[i]));
  std::optional<std::string> best;
  std::optional<Cursor> best_parsed;
  for (const auto& name : channels) {
    const auto c = cursor(name);
    const auto parsed = c ? parse_cursor(*c) : std::nullopt;
    if (!parsed || parsed->epoch != epoch) continue;
    if (!best_parsed || parsed->seq < best_parsed->seq) {
      best = c;
      best_parsed = parsed;
    }
  }
  return best;
}

void CursorBook::end_replay(Link& link) {
  if (!link.replay_head) return;
  const std::string head = link.replay_head->str();
  for (const auto& name : link.replay_channels) {
    auto it = channels_.find(name);
    if (it == channels_.end() || !link.sent.count(name)) continue;
    move_up(it->second, head);
    link.live.insert(name);
  }
  link.replay_channels.clear();
  link.replay_head.reset();
}

bool CursorBook::begin_answer(Link& link, bool recovered, const std::optional<Cursor>& head,
                              const std::vector<std::string>& channels) {
  if (link.resync) return false;
  end_replay(link);
  if (head) last_epoch_ = head->epoch;
  if (recovered || !link.since || !head || epoch_of(link.since) == head->epoch) return true;
  for (const auto& name : channels) {
    auto sent = link.sent.find(name);
    if (sent != link.sent.end() && epoch_of(sent->second) == head->epoch) {
      link.resync = true;
      return false;
    }
  }
  return true;
}

void CursorBook::check_gap(const std::string& channel, const std::string& asked, bool recovered,
                           const std::optional<Cursor>& head, const std::string& head_text,
                           std::vector<Delivery>& out) const {
  const bool other_epoch = head && epoch_of(asked) != head->epoch;
  if (recovered && !other_epoch) return;
  out.push_back(Gap{channel, cursor(channel).value_or(asked), head_text});
}

void CursorBook::on_subscribed(Link& link, const SubscribedEvent& ev, std::vector<Delivery>& out) {
  const auto head = parse_cursor(ev.cursor);
  if (!begin_answer(link, ev.recovered, head, ev.channels)) return;
  for (const auto& name : ev.channels) {
    auto it = channels_.find(name);
    auto sent = link.sent.find(name);
    if (it == channels_.end() || sent == link.sent.end()) continue;
    // Every channel of the notice belongs to its replay (an SSE stream replays all of
    // them after one cursor, in cursor order), so none of their history ends it.
    link.replay_channels.push_back(name);
    if (!sent->second) {
      // Subscribed from now: whatever is replayed for it is older history.
      if (head) move_up(it->second, ev.cursor);
      link.live.insert(name);
      continue;
    }
    link.live.erase(name);
    check_gap(name, *sent->second, ev.recovered, head, ev.cursor, out);
  }
  if (!link.replay_channels.empty()) {
    if (head) {
      link.replay_head = head;
    } else {
      // No usable head: nothing bounds the replay, so treat the channels as live.
      for (const auto& name : link.replay_channels) link.live.insert(name);
      link.replay_channels.clear();
    }
  }
}

bool CursorBook::deliver(Envelope& env, std::vector<Delivery>& out) {
  auto it = channels_.find(env.channel);
  if (it == channels_.end() || !is_newer(env.id, it->second)) return false;
  it->second = env.id;
  out.emplace_back(std::move(env));
  return true;
}

void CursorBook::on_message(Link& link, Envelope env, std::vector<Delivery>& out) {
  if (link.resync) return;
  const auto id = parse_cursor(env.id);
  if (id) last_epoch_ = id->epoch;
  const auto& rh = link.replay_head;
  const bool replay = id && rh && id->epoch == rh->epoch && id->seq <= rh->seq &&
                      std::find(link.replay_channels.begin(), link.replay_channels.end(), env.channel) !=
                          link.replay_channels.end();
  if (!replay) end_replay(link);
  const std::string channel = env.channel;
  const std::string cursor = env.id;
  deliver(env, out);
  if (replay || !id || !link.live.count(channel)) return;
  for (const auto& name : link.live) {
    if (name == channel) continue;
    if (auto it = channels_.find(name); it != channels_.end()) move_up(it->second, cursor);
  }
}

void CursorBook::on_skipped(const Link& link, const SkippedEvent& ev, std::vector<Delivery>& out) const {
  if (link.resync || ev.skipped == 0 || !has(ev.channel) || !link.sent.count(ev.channel)) return;
  out.push_back(Gap{ev.channel, cursor(ev.channel).value_or(""), "", ev.skipped});
}

void CursorBook::on_batch(Link& link, BatchEvent ev, std::vector<Delivery>& out) {
  const auto head = parse_cursor(ev.cursor);
  if (!begin_answer(link, ev.recovered, head, ev.channels)) return;
  for (const auto& [channel, n] : ev.skipped) on_skipped(link, SkippedEvent{channel, n}, out);
  for (const auto& name : ev.channels) {
    auto sent = link.sent.find(name);
    if (has(name) && sent != link.sent.end() && sent->second)
      check_gap(name, *sent->second, ev.recovered, head, ev.cursor, out);
  }
  for (auto& env : ev.messages) {
    if (auto id = parse_cursor(env.id)) last_epoch_ = id->epoch;
    deliver(env, out);
  }
  if (!head) return;
  // The answer covers every channel of the poll up to its cursor.
  for (const auto& name : ev.channels) {
    auto it = channels_.find(name);
    if (it == channels_.end()) continue;
    move_up(it->second, ev.cursor);
    link.sent[name] = it->second;
  }
}

}  // namespace herald::client::detail
