#include "src/local_subscriptions.h"

#include <algorithm>

#include "src/hub.h"
#include "src/session.h"

namespace herald {

void LocalSubscriptions::add(const std::string& channel, Session* session) {
  index_[channel].push_back(session);
  if (hub_) hub_->channel_ref(channel);  // counts every session: live counters
}

void LocalSubscriptions::remove(const std::string& channel, Session* session) {
  auto it = index_.find(channel);
  if (it == index_.end()) return;
  auto& v = it->second;
  auto pos = std::find(v.begin(), v.end(), session);
  if (pos == v.end()) return;
  *pos = v.back();  // order among sessions does not matter
  v.pop_back();
  if (v.empty()) index_.erase(it);
  if (hub_) hub_->channel_unref(channel);
}

size_t LocalSubscriptions::dispatch(const MessagePtr& message) {
  auto it = index_.find(message->channel);
  if (it == index_.end()) return 0;
  // Sessions never unsubscribe during delivery (closes are deferred by the loop), so
  // iterating the live vector is safe.
  for (Session* s : it->second) s->deliver(message);
  return it->second.size();
}

}  // namespace herald
