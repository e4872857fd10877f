#include "src/conflation.h"

#include <unordered_map>

namespace herald {

ConflatedBatch conflate_batch(std::vector<MessagePtr> messages, const ConflatesFn& conflates, size_t above_bytes) {
  ConflatedBatch out;
  size_t bytes = 0;
  for (const auto& m : messages) bytes += m->envelope.size();
  if (bytes <= above_bytes || !conflates) {
    out.messages = std::move(messages);
    return out;
  }
  // Per conflating channel: the index of its newest message and how many came before.
  struct Newest {
    size_t index;
    uint64_t older;
  };
  std::unordered_map<std::string_view, Newest> newest;
  std::vector<std::string_view> order;
  std::unordered_map<std::string_view, bool> conflating;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string_view ch = messages[i]->channel;
    auto [c, fresh] = conflating.try_emplace(ch, false);
    if (fresh) c->second = conflates(ch);
    if (!c->second) continue;
    auto [it, first] = newest.try_emplace(ch, Newest{i, 0});
    if (first) {
      order.push_back(ch);
    } else {
      it->second.index = i;
      ++it->second.older;
    }
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    auto it = newest.find(messages[i]->channel);
    if (it == newest.end() || it->second.index == i) out.messages.push_back(messages[i]);
  }
  for (const auto& ch : order)
    if (const uint64_t n = newest[ch].older; n > 0) out.skipped.emplace_back(std::string(ch), n);
  return out;
}

}  // namespace herald
