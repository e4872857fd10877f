#pragma once
// A Session is one client's set of subscriptions on one connection, whatever the
// transport. It lives on the loop that owns the connection and is touched only there.
// Subscribing, resuming from a cursor and dropping what the client already has are
// decided here once; the transport only encodes (SessionWire).
#include <optional>
#include <string>
#include <vector>

#include "src/cursor.h"
#include "src/history.h"
#include "src/message.h"

namespace herald {

class LocalSubscriptions;

// What a transport implements to put messages on its wire. Loop thread only.
class SessionWire {
 public:
  virtual ~SessionWire() = default;
  virtual void write_message(const MessagePtr& message) = 0;
};

class Session {
 public:
  Session(LocalSubscriptions& index, SessionWire& wire) : index_(index), wire_(wire) {}
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

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
  // already has it (its cursor is not after the channel's last one).
  void deliver(const MessagePtr& message);

  [[nodiscard]] size_t channel_count() const { return subs_.size(); }
  [[nodiscard]] bool subscribed(const std::string& channel) const;
  [[nodiscard]] std::vector<std::string> channels() const;

 private:
  struct Sub {
    std::string channel;
    Cursor last;
  };
  LocalSubscriptions& index_;
  SessionWire& wire_;
  std::vector<Sub> subs_;  // few per session: a vector beats a map here
};

}  // namespace herald
