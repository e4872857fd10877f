#include "src/presence_table.h"

#include <algorithm>

namespace herald {

PresenceTable::Entry* PresenceTable::find_or_add(const std::string& channel, const std::string& user) {
  auto ch = channels_.find(channel);
  if (ch != channels_.end()) {
    if (auto it = ch->second.find(user); it != ch->second.end()) return &it->second;
  }
  if (entries_ >= limits_.max_entries || (ch != channels_.end() && ch->second.size() >= limits_.max_members)) {
    ++overflows_;
    return nullptr;
  }
  if (ch == channels_.end()) ch = channels_.emplace(channel, Channel{}).first;
  ++entries_;
  return &ch->second[user];
}

void PresenceTable::drop_if_absent(const std::string& channel, const std::string& user, PresenceChanges& out) {
  auto ch = channels_.find(channel);
  if (ch == channels_.end()) return;
  auto it = ch->second.find(user);
  if (it == ch->second.end() || it->second.present()) return;
  out.events.push_back({false, channel, user, it->second.info});
  ch->second.erase(it);
  --entries_;
  if (ch->second.empty()) channels_.erase(ch);
}

bool PresenceTable::local_join(const std::string& channel, const std::string& user, const std::string& info,
                               PresenceChanges& out) {
  Entry* e = find_or_add(channel, user);
  if (!e) return false;
  const bool was_present = e->present();
  const bool was_local = e->local_present();
  ++e->local;
  e->linger_until = 0;
  if (!info.empty() || !was_present) e->info = info;
  if (!was_local) out.announce.push_back({true, channel, user, e->info});
  if (!was_present) out.events.push_back({true, channel, user, e->info});
  return true;
}

void PresenceTable::local_leave(const std::string& channel, const std::string& user, int64_t now_ms,
                                PresenceChanges& out) {
  auto ch = channels_.find(channel);
  if (ch == channels_.end()) return;
  auto it = ch->second.find(user);
  if (it == ch->second.end() || it->second.local == 0) return;
  Entry& e = it->second;
  if (--e.local > 0) return;
  if (limits_.linger_ms > 0) {
    e.linger_until = std::max<int64_t>(1, now_ms + limits_.linger_ms);
    lingering_.emplace_back(channel, user);
  } else {
    end_local(channel, user, e, out);
  }
}

void PresenceTable::end_local(const std::string& channel, const std::string& user, Entry& e, PresenceChanges& out) {
  e.linger_until = 0;
  out.announce.push_back({false, channel, user, e.info});
  drop_if_absent(channel, user, out);  // may destroy `e`
}

PresenceTable::Node* PresenceTable::node(const std::string& id, int64_t now_ms) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) {
    if (nodes_.size() >= limits_.max_nodes) {
      ++overflows_;
      return nullptr;
    }
    it = nodes_.emplace(id, Node{}).first;
  }
  it->second.last_seen = now_ms;
  return &it->second;
}

void PresenceTable::remote_join(const std::string& node_id, const std::string& channel, const std::string& user,
                                const std::string& info, int64_t now_ms, PresenceChanges& out) {
  Node* n = node(node_id, now_ms);
  if (!n) return;
  auto& listed = n->members[channel];
  if (listed.count(user)) {
    if (auto* e = find_or_add(channel, user); e && !info.empty()) e->info = info;
    return;
  }
  Entry* e = find_or_add(channel, user);
  if (!e) {
    if (listed.empty()) n->members.erase(channel);
    return;
  }
  const bool was_present = e->present();
  if (!info.empty() || !was_present) e->info = info;
  e->nodes.push_back(node_id);
  listed.insert(user);
  if (!was_present) out.events.push_back({true, channel, user, e->info});
}

void PresenceTable::remote_leave(const std::string& node_id, const std::string& channel, const std::string& user,
                                 int64_t now_ms, PresenceChanges& out) {
  Node* n = node(node_id, now_ms);
  if (!n) return;
  auto listed = n->members.find(channel);
  if (listed == n->members.end() || listed->second.erase(user) == 0) return;
  if (listed->second.empty()) n->members.erase(listed);
  auto ch = channels_.find(channel);
  if (ch == channels_.end()) return;
  auto it = ch->second.find(user);
  if (it == ch->second.end()) return;
  auto& nodes = it->second.nodes;
  nodes.erase(std::remove(nodes.begin(), nodes.end(), node_id), nodes.end());
  drop_if_absent(channel, user, out);
}

void PresenceTable::remote_snapshot(const std::string& node_id, const PresenceListing& listing, ChannelCounts counts,
                                    int64_t now_ms, PresenceChanges& out) {
  Node* n = node(node_id, now_ms);
  if (!n) return;
  // Leaves first, so that room freed by this node's departed users serves its new ones.
  std::vector<std::pair<std::string, std::string>> gone;
  for (const auto& [channel, users] : n->members) {
    auto now_listed = listing.find(channel);
    for (const auto& user : users) {
      const bool kept = now_listed != listing.end() &&
                        std::any_of(now_listed->second.begin(), now_listed->second.end(),
                                    [&](const PresenceMember& m) { return m.user == user; });
      if (!kept) gone.emplace_back(channel, user);
    }
  }
  for (const auto& [channel, user] : gone) remote_leave(node_id, channel, user, now_ms, out);
  for (const auto& [channel, members] : listing)
    for (const auto& m : members) remote_join(node_id, channel, m.user, m.info, now_ms, out);
  n = node(node_id, now_ms);
  if (n) n->counts = std::move(counts);
}

void PresenceTable::forget_node(const std::string& id, PresenceChanges& out) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  const auto members = std::move(it->second.members);
  nodes_.erase(it);
  for (const auto& [channel, users] : members) {
    auto ch = channels_.find(channel);
    if (ch == channels_.end()) continue;
    for (const auto& user : users) {
      auto e = ch->second.find(user);
      if (e == ch->second.end()) continue;
      auto& nodes = e->second.nodes;
      nodes.erase(std::remove(nodes.begin(), nodes.end(), id), nodes.end());
      drop_if_absent(channel, user, out);
      ch = channels_.find(channel);
      if (ch == channels_.end()) break;
    }
  }
}

void PresenceTable::expire(int64_t now_ms, PresenceChanges& out) {
  std::vector<std::pair<std::string, std::string>> still;
  for (auto& [channel, user] : lingering_) {
    auto ch = channels_.find(channel);
    if (ch == channels_.end()) continue;
    auto it = ch->second.find(user);
    // Rejoined (linger cleared) or listed again by a later leave: nothing to do here.
    if (it == ch->second.end() || it->second.linger_until == 0) continue;
    if (it->second.linger_until > now_ms) {
      still.emplace_back(std::move(channel), std::move(user));
      continue;
    }
    end_local(channel, user, it->second, out);
  }
  // A user who left, rejoined and left again is in the list twice: keep one.
  std::sort(still.begin(), still.end());
  still.erase(std::unique(still.begin(), still.end()), still.end());
  lingering_ = std::move(still);

  std::vector<std::string> silent;
  for (const auto& [id, n] : nodes_)
    if (now_ms - n.last_seen > limits_.node_timeout_ms) silent.push_back(id);
  for (const auto& id : silent) forget_node(id, out);
}

std::vector<PresenceMember> PresenceTable::members(const std::string& channel) const {
  std::vector<PresenceMember> out;
  auto ch = channels_.find(channel);
  if (ch == channels_.end()) return out;
  out.reserve(ch->second.size());
  for (const auto& [user, e] : ch->second) out.push_back({user, e.info});
  return out;
}

PresenceListing PresenceTable::local_listing() const {
  PresenceListing out;
  for (const auto& [channel, users] : channels_)
    for (const auto& [user, e] : users)
      if (e.local_present()) out[channel].push_back({user, e.info});
  return out;
}

ChannelCounts PresenceTable::remote_counts(const std::string& prefix) const {
  ChannelCounts out;
  for (const auto& [id, n] : nodes_)
    for (auto it = n.counts.lower_bound(prefix); it != n.counts.end() && it->first.compare(0, prefix.size(), prefix) == 0;
         ++it)
      out[it->first] += it->second;
  return out;
}

}  // namespace herald
