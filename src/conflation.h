#pragma once
// Conflation for slow consumers of "latest" namespaces (README, "Slow consumers").
// Streams conflate in Session (one held message per channel while the connection is
// backlogged); a long-poll answer conflates here, since its client fetches a backlog
// from history rather than queueing one.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "src/local_subscriptions.h"
#include "src/message.h"

namespace herald {

// A connection is behind when this many bytes wait for a client that stopped taking
// them (or half its outbox limit, whichever is smaller); a poll answer is when its
// envelopes would pass it.
inline constexpr size_t kConflateAboveBytes = 64 * 1024;

struct ConflatedBatch {
  std::vector<MessagePtr> messages;                       // still in cursor order
  std::vector<std::pair<std::string, uint64_t>> skipped;  // per channel, in order of first appearance
};

// When the envelopes of `messages` (in cursor order) hold more than `above_bytes`,
// every channel for which `conflates` is true keeps only its newest message and the
// others are counted as skipped; otherwise the batch is returned as it is.
[[nodiscard]] ConflatedBatch conflate_batch(std::vector<MessagePtr> messages, const ConflatesFn& conflates,
                                            size_t above_bytes = kConflateAboveBytes);

}  // namespace herald
