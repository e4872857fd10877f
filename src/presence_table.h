#pragma once
// Who is in which channel, cluster-wide, as one node sees it: the users subscribed on
// this node plus those that other nodes announced (join/leave messages and periodic
// snapshots through the broker). A user is present in a channel while any source lists
// them, so one user with several connections, on one node or several, joins once and
// leaves when the last goes.
//
// Pure logic with the time passed in (tests drive it with a fake clock); not
// thread-safe: its owner (Presence) holds a lock around every call.
//
// Time bounds:
//  * a local user whose last subscription ends stays present for `linger_ms`, so a
//    long-poll client between two polls, or a client reconnecting, does not leave and
//    join again;
//  * a node not heard from (snapshot or event) for `node_timeout_ms` is taken for dead
//    and everything it listed leaves.
// Size bounds: at most `max_members` users per channel and `max_entries` (channel,
// user) pairs in all. A join that would pass either is refused (join() returns false,
// the user is not listed, and the overflow counter grows); the subscription itself
// goes on.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace herald {

struct PresenceLimits {
  size_t max_members = 1000;     // users listed per channel
  size_t max_entries = 100'000;  // (channel, user) pairs, all channels and nodes together
  size_t max_nodes = 256;        // other nodes remembered
  int64_t linger_ms = 2000;
  int64_t node_timeout_ms = 6000;
};

struct PresenceEvent {
  bool join = true;
  std::string channel;
  std::string user;
  std::string info;  // compact JSON, "" when none
};

// What one call changed: `events` for this node's subscribers (the merged view moved),
// `announce` for the other nodes (this node's own view moved).
struct PresenceChanges {
  std::vector<PresenceEvent> events;
  std::vector<PresenceEvent> announce;
};

struct PresenceMember {
  std::string user;
  std::string info;  // compact JSON, "" when none
};

// One node's listing: channel -> members.
using PresenceListing = std::map<std::string, std::vector<PresenceMember>>;
using ChannelCounts = std::map<std::string, uint64_t>;

class PresenceTable {
 public:
  explicit PresenceTable(PresenceLimits limits) : limits_(limits) {}

  // This node: a subscription of `user` to `channel` began / ended.
  [[nodiscard]] bool local_join(const std::string& channel, const std::string& user, const std::string& info,
                                PresenceChanges& out);
  void local_leave(const std::string& channel, const std::string& user, int64_t now_ms, PresenceChanges& out);

  // Another node's announcements. Each one also counts as a sign of life.
  void remote_join(const std::string& node, const std::string& channel, const std::string& user,
                   const std::string& info, int64_t now_ms, PresenceChanges& out);
  void remote_leave(const std::string& node, const std::string& channel, const std::string& user, int64_t now_ms,
                    PresenceChanges& out);
  // A node's full listing and subscriber counts: replaces what it listed before.
  void remote_snapshot(const std::string& node, const PresenceListing& listing, ChannelCounts counts,
                       int64_t now_ms, PresenceChanges& out);

  // A node said goodbye (it is shutting down): its users leave now.
  void remote_gone(const std::string& node, PresenceChanges& out) { forget_node(node, out); }

  // Ends lingering local users and forgets silent nodes. Call a few times a second.
  void expire(int64_t now_ms, PresenceChanges& out);

  [[nodiscard]] std::vector<PresenceMember> members(const std::string& channel) const;
  // This node's own users (for its snapshot).
  [[nodiscard]] PresenceListing local_listing() const;
  // Subscriber counts the other nodes reported, summed, for channels starting with `prefix`.
  [[nodiscard]] ChannelCounts remote_counts(const std::string& prefix) const;
  [[nodiscard]] size_t entries() const { return entries_; }
  [[nodiscard]] size_t nodes() const { return nodes_.size(); }
  [[nodiscard]] uint64_t overflows() const { return overflows_; }

 private:
  struct Entry {
    std::string info;
    uint32_t local = 0;        // this node's subscriptions
    int64_t linger_until = 0;  // > 0: the last local one ended; listed until then
    std::vector<std::string> nodes;  // other nodes listing the user (few)
    [[nodiscard]] bool local_present() const { return local > 0 || linger_until > 0; }
    [[nodiscard]] bool present() const { return local_present() || !nodes.empty(); }
  };
  struct Node {
    int64_t last_seen = 0;
    std::map<std::string, std::set<std::string>> members;  // channel -> users
    ChannelCounts counts;
  };
  using Channel = std::map<std::string, Entry>;  // user -> entry; ordered for the API

  // The entry of (channel, user), created if the bounds allow; nullptr otherwise.
  Entry* find_or_add(const std::string& channel, const std::string& user);
  void drop_if_absent(const std::string& channel, const std::string& user, PresenceChanges& out);
  void end_local(const std::string& channel, const std::string& user, Entry& e, PresenceChanges& out);
  Node* node(const std::string& id, int64_t now_ms);
  void forget_node(const std::string& id, PresenceChanges& out);

  PresenceLimits limits_;
  std::map<std::string, Channel> channels_;
  size_t entries_ = 0;
  std::map<std::string, Node> nodes_;
  std::vector<std::pair<std::string, std::string>> lingering_;  // (channel, user) with a linger set
  uint64_t overflows_ = 0;
};

}  // namespace herald
