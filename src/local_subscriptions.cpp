#include "src/local_subscriptions.h"

#include <algorithm>

#include "src/hub.h"
#include "src/session.h"

namespace herald {

uint32_t LocalSubscriptions::add(const std::string& channel, Session* session) {
  auto& v = index_[channel];
  v.push_back(session);
  if (hub_) hub_->channel_ref(channel);  // counts every session: live counters
  return static_cast<uint32_t>(v.size() - 1);
}

void LocalSubscriptions::remove(const std::string& channel, Session* session, uint32_t slot) {
  auto it = index_.find(channel);
  if (it == index_.end()) return;
  auto& v = it->second;
  if (slot >= v.size() || v[slot] != session) {  // no place known: search
    auto pos = std::find(v.begin(), v.end(), session);
    if (pos == v.end()) return;
    slot = static_cast<uint32_t>(pos - v.begin());
  }
  Session* moved = v.back();  // order among sessions does not matter
  v[slot] = moved;
  v.pop_back();
  if (moved != session) moved->on_slot_moved(channel, slot);
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
