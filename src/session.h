#pragma once
// A Session is one client's set of subscriptions on one connection, whatever the
// transport. It lives on the loop that owns the connection and is touched only there.
// Subscribing, resuming from a cursor and dropping what the client already has are
// decided here once; the transport only encodes (SessionWire).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/cursor.h"
#include "src/history.h"
#include "src/message.h"
#include "src/presence_table.h"

namespace herald {

class LocalSubscriptions;

// What a transport implements to put messages on its wire. Loop thread only.
class SessionWire {
 public:
  virtual ~SessionWire() = default;
  virtual void write_message(const MessagePtr& message) = 0;

  // Conflation (slow_consumer "latest"); a wire that never backlogs (a long-poll,
  // which conflates its answer instead) keeps these defaults.
  // True while the connection is behind (Conn::backlogged).
  [[nodiscard]] virtual bool backlogged() const { return false; }
  // `skipped` messages of `channel` were replaced by a newer one, which is written
  // right after this notice.
  virtual void write_gap(const std::string& channel, uint64_t skipped) { (void)channel, (void)skipped; }
  // Call Session::release_held() once the connection has written everything queued.
  virtual void notify_when_empty() {}
};

class Session {
 public:
  Session(LocalSubscriptions& index, SessionWire& wire) : index_(index), wire_(wire) {}
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Who the client is, for presence (from its token's sub and info); null: anonymous.
  // Applies to channels subscribed from now on.
  void set_member(std::shared_ptr<const PresenceMember> member) { member_ = std::move(member); }

  // Registers `channels` (already validated) and reads what history holds after
  // `since`. Registration comes first, so a message that arrives meanwhile is either
  // in the replay or dispatched later, and deliver() drops the one seen twice. The
  // caller writes its "subscribed" notice, then passes each replayed message to
  // deliver().
  [[nodiscard]] Replay subscribe(const std::vector<std::string>& channels, const std::optional<Cursor>& since,
                                 size_t replay_limit, const History& history);
  bool unsubscribe(const std::string& channel);
  void unsubscribe_all();

  // A message of a subscribed channel, replayed or live: written unless the client
  // already has it (its cursor is not after the channel's last one). On a backlogged
  // wire a conflating channel's message is held instead, replacing the one held
  // before (counted as skipped); see release_held().
  // Presence events have no cursor and are written at once.
  void deliver(const MessagePtr& message);
  // Writes the held messages in cursor order, each after its gap notice when it
  // replaced others. Called when the wire has emptied, and before any message is
  // written directly, so the wire stays in cursor order (clients rely on it to move
  // the cursors of a connection's other channels).
  void release_held();
  [[nodiscard]] size_t held_count() const { return held_count_; }

  // LocalSubscriptions moved this session within `channel`'s list.
  void on_slot_moved(const std::string& channel, uint32_t slot);

  [[nodiscard]] size_t channel_count() const { return subs_.size(); }
  [[nodiscard]] bool subscribed(const std::string& channel) const;
  [[nodiscard]] std::vector<std::string> channels() const;

 private:
  struct Sub {
    std::string channel;
    Cursor last;            // newest accepted, written or held
    bool conflates = false;
    MessagePtr held;        // at most one per channel: what bounds a conflating backlog
    uint64_t skipped = 0;   // replaced while held, told in the gap notice
    std::shared_ptr<const PresenceMember> present;  // whom this subscription lists in presence; null: none
    uint32_t slot = UINT32_MAX;  // place in the loop's list of the channel's sessions
  };
  void drop_held(Sub& s);
  void leave_presence(const Sub& sub);

  LocalSubscriptions& index_;
  SessionWire& wire_;
  std::shared_ptr<const PresenceMember> member_;
  std::vector<Sub> subs_;  // few per session: a vector beats a map here
  size_t held_count_ = 0;
};

}  // namespace herald
