#pragma once
// One loop's index from channel to the sessions subscribed on that loop. Single
// threaded (the loop's own); tells the hub of every subscription and unsubscription
// (its node-wide counts serve the live counters and the broker's first/last hints),
// never of a message, so loops do not contend per message.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/message.h"

namespace herald {

class Hub;
class Session;

// Whether a channel's namespace conflates for slow consumers (slow_consumer "latest").
using ConflatesFn = std::function<bool(std::string_view channel)>;

class LocalSubscriptions {
 public:
  explicit LocalSubscriptions(Hub* hub, ConflatesFn conflates = nullptr)
      : hub_(hub), conflates_(std::move(conflates)) {}

  // Returns the session's place in the channel's list, which the session keeps for
  // remove(): a long-poll unsubscribes after every answer, and finding itself among
  // thousands would make each cycle cost O(subscribers). When a removal moves another
  // session to a new place, that session is told (Session::on_slot_moved).
  uint32_t add(const std::string& channel, Session* session);
  void remove(const std::string& channel, Session* session, uint32_t slot = UINT32_MAX);
  // Hands `message` to every local session of its channel; returns how many.
  size_t dispatch(const MessagePtr& message);
  [[nodiscard]] size_t channel_count() const { return index_.size(); }
  [[nodiscard]] bool conflates(std::string_view channel) const { return conflates_ && conflates_(channel); }
  // f(channel, local sessions) for every channel with a local subscriber.
  template <typename F>
  void for_each_channel(F&& f) const {
    for (const auto& [channel, sessions] : index_) f(channel, sessions.size());
  }
  [[nodiscard]] Hub* hub() const { return hub_; }

 private:
  Hub* hub_;
  ConflatesFn conflates_;
  std::unordered_map<std::string, std::vector<Session*>> index_;
};

}  // namespace herald
