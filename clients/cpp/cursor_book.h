#pragma once
// The client's channels and the cursor each resumes from, and the rules that keep
// delivery exactly-once across reconnects: what to drop as a duplicate, when a
// cursor may move, when a gap must be reported. Pure logic with no threads or I/O;
// the client thread owns the one CursorBook and feeds it what transports report.
//
// Cursors are "<epoch>-<seq>" (src/cursor.h). Within one epoch a later seq is a later
// message; a different epoch is a new log, so its messages always count as new, and
// on_gap tells the application that the old log's tail was lost.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "clients/cpp/client_transport.h"
#include "clients/cpp/herald_client.h"
#include "src/cursor.h"

namespace herald::client::detail {

// What one connection has been told and proven, as the book needs it.
struct Link {
  // Channels this connection carries and the cursor each was opened with.
  std::map<std::string, std::optional<std::string>> sent;
  // Channels complete on this connection up to the last live message seen: the
  // server sends live messages in cursor order, so a message of one channel proves
  // the others have nothing older pending and their cursors may move up to it.
  std::set<std::string> live;
  // The replay after the last "subscribed" notice: messages of these channels up to
  // `replay_head` are history, sent before anything else. They are not in order with
  // other channels' live traffic, so they move no other channel's cursor; at the
  // first event that is not part of the replay, the channels are complete up to the
  // head and become live.
  std::vector<std::string> replay_channels;
  std::optional<Cursor> replay_head;
  // SSE and long-poll take one resume cursor for all channels. Before the client
  // knows the server's epoch it may pick one from an older log while other channels
  // hold cursors of the current one; the server then answers recovered=false for
  // all. Rather than report gaps for channels that could resume, the book marks the
  // link `resync`, ignores what else it carries, and the client opens a replacement
  // that resumes from a cursor of the epoch now known.
  std::optional<std::string> since;
  bool resync = false;
};

// What the application is to be told, in order.
using Delivery = std::variant<Envelope, Gap>;

class CursorBook {
 public:
  // False when the channel was already there (its cursor is kept).
  bool add(const std::string& channel, const std::optional<std::string>& since);
  bool remove(const std::string& channel);
  [[nodiscard]] bool empty() const { return channels_.empty(); }
  [[nodiscard]] bool has(const std::string& channel) const { return channels_.count(channel) != 0; }
  [[nodiscard]] std::vector<std::string> channels() const;
  [[nodiscard]] std::optional<std::string> cursor(const std::string& channel) const;

  // The one resume cursor for transports that take a single `since` (SSE, long-poll):
  // the oldest channel cursor of the newest epoch seen. Channels further ahead drop
  // the replayed duplicates; channels of an older epoch get a gap.
  [[nodiscard]] std::optional<std::string> pick_since(const std::vector<std::string>& channels) const;

  void on_subscribed(Link& link, const SubscribedEvent& ev, std::vector<Delivery>& out);
  void on_message(Link& link, Envelope env, std::vector<Delivery>& out);
  void on_batch(Link& link, BatchEvent ev, std::vector<Delivery>& out);
  // The server conflated: a Gap with the count, for a channel this link carries. The
  // newest message follows in cursor order, so no cursor moves here.
  void on_skipped(const Link& link, const SkippedEvent& ev, std::vector<Delivery>& out) const;

 private:
  // The open replay is over: its channels are complete up to its head and go live.
  void end_replay(Link& link);
  // The common start of a "subscribed" notice and a poll answer: ends the open
  // replay and learns the server's epoch. False when the event is to be ignored: the
  // link is resyncing, or must now (its single resume cursor was of another epoch
  // than the server's while some channel holds a cursor of the server's epoch).
  bool begin_answer(Link& link, bool recovered, const std::optional<Cursor>& head,
                    const std::vector<std::string>& channels);
  // Adds a Gap for `channel`, resumed after `asked`, when the server could not
  // replay from there (not recovered, or `head` is of another epoch).
  void check_gap(const std::string& channel, const std::string& asked, bool recovered,
                 const std::optional<Cursor>& head, const std::string& head_text, std::vector<Delivery>& out) const;
  // Delivers `env` unless its channel already has it; true when delivered.
  bool deliver(Envelope& env, std::vector<Delivery>& out);

  std::map<std::string, std::optional<std::string>> channels_;
  std::optional<std::string> last_epoch_;  // epoch of the newest cursor the server showed
};

// True when cursor `a` comes after `b`: a later seq of the same epoch, or another
// epoch. An unparsable cursor counts as new, so nothing is dropped by mistake.
[[nodiscard]] bool is_newer(const std::string& a, const std::optional<std::string>& b);

}  // namespace herald::client::detail
