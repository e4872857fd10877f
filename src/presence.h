#pragma once
// Presence and live counts for the node: the thread-safe owner of the PresenceTable.
//
// Local side (event-loop threads, through Session): join()/leave() for subscriptions to
// channels of namespaces with "presence": true. Changes of the merged view become
// join/leave events (build_presence_event) pushed into the hub's dispatch ring, so they
// reach this node's subscribers on every transport like any message, but without a
// cursor: they are not stored and not replayed.
//
// Cluster side: this node's own changes and, every `heartbeat_ms`, a snapshot (its
// users and its subscriber counts per channel) go to the other nodes as node-state
// messages through the broker (Broker::publish_node_state); theirs arrive through
// on_node_state(). One thread of ours (the ticker) publishes everything in the order the
// table changed, so a snapshot never overtakes an earlier join or leave. A node silent
// for `node_timeout_ms` is dead: its users leave, so a killed node's entries are gone
// within node_timeout_ms + kTickMs of its last heartbeat.
//
// Wire format of node-state messages (compact JSON, best effort, any order across nodes):
//   {"k":"join"|"leave","n":NODE,"c":CHANNEL,"u":USER,"i":INFO?}
//   {"k":"beat","n":NODE,"p":{CHANNEL:[[USER,INFO|null],...]},"s":{CHANNEL:COUNT}}
//   {"k":"bye","n":NODE}   (a node shutting down: the others drop its users at once)
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "src/namespaces.h"
#include "src/presence_table.h"

namespace herald {

class Broker;
class Hub;

struct PresenceOptions {
  PresenceLimits limits;
  int64_t heartbeat_ms = 2000;
  size_t max_counted_channels = 10'000;  // channels one snapshot carries counts for (largest first)
  size_t outbox_limit = 10'000;          // node-state messages waiting for the broker
};

class Presence {
 public:
  // `node_id` must be unique per process (a restarted node is a new node).
  Presence(const Namespaces& namespaces, Hub& hub, PresenceOptions options, std::string node_id);
  ~Presence();
  Presence(const Presence&) = delete;
  Presence& operator=(const Presence&) = delete;

  // Starts the ticker, which publishes through `broker` (which must outlive stop()).
  void start(Broker& broker);
  // Says goodbye to the other nodes and stops the ticker. Call it before the event
  // loops go away: from then on no event is pushed to them.
  void stop();

  // Does `channel`'s namespace have presence? Any thread.
  [[nodiscard]] bool enabled(std::string_view channel) const;
  // A subscription of `member` to `channel` began; false when the table is full (the
  // user is not listed, and leave() must not be called for it). Any thread.
  [[nodiscard]] bool join(const std::string& channel, const PresenceMember& member);
  void leave(const std::string& channel, const std::string& user);
  // A client seen without a subscription held (a long-poll answered at once): listed
  // for the linger time. No-op where `channel` has no presence. Any thread.
  void touch(const std::string& channel, const PresenceMember& member);

  // A node-state message from the broker (any node's, this one's included). Broker thread.
  void on_node_state(std::string_view payload);

  // For the HTTP API. Any thread.
  [[nodiscard]] std::vector<PresenceMember> members(const std::string& channel) const;
  // Subscribers per channel starting with `prefix`: this node's live counts plus the
  // other nodes' last reported ones.
  [[nodiscard]] ChannelCounts counts(const std::string& prefix) const;
  [[nodiscard]] const std::string& node_id() const { return node_id_; }
  [[nodiscard]] size_t entries() const;
  [[nodiscard]] size_t nodes() const;
  [[nodiscard]] uint64_t overflows() const;
  [[nodiscard]] uint64_t outbox_drops() const { return outbox_drops_.load(); }

 private:
  void publish_changes(PresenceChanges& changes);  // under mu_
  void run();
  std::string snapshot_message() const;  // under mu_

  const Namespaces& namespaces_;
  Hub& hub_;
  PresenceOptions options_;
  std::string node_id_;
  std::string own_id_json_;  // node_id_ as a JSON string, to spot our own messages
  Broker* broker_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  PresenceTable table_;
  std::vector<std::string> outbox_;  // node-state messages for the ticker to publish, in order
  bool stopping_ = false;
  std::atomic<uint64_t> outbox_drops_{0};
  std::thread ticker_;
};

}  // namespace herald
