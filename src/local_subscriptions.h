#pragma once
// One loop's index from channel to the sessions subscribed on that loop. Single
// threaded (the loop's own); tells the hub only about a channel's first and last
// local session, so subscribe/unsubscribe never contend across loops per message.
#include <string>
#include <unordered_map>
#include <vector>

#include "src/message.h"

namespace herald {

class Hub;
class Session;

class LocalSubscriptions {
 public:
  explicit LocalSubscriptions(Hub* hub) : hub_(hub) {}

  void add(const std::string& channel, Session* session);
  void remove(const std::string& channel, Session* session);
  // Hands `message` to every local session of its channel; returns how many.
  size_t dispatch(const MessagePtr& message);
  [[nodiscard]] size_t channel_count() const { return index_.size(); }

 private:
  Hub* hub_;
  std::unordered_map<std::string, std::vector<Session*>> index_;
};

}  // namespace herald
