#pragma once
// What a client asks for when it opens a stream or a poll, checked once for every
// transport: channel names, how many, and the resume cursor.
#include <optional>
#include <string>
#include <vector>

#include "src/cursor.h"

namespace herald {

struct ClientError {
  int http_status = 400;
  std::string code;     // machine-readable, e.g. "invalid_channel"
  std::string message;  // says what was wrong and what to do
};

struct SubscribeRequest {
  std::vector<std::string> channels;
  std::optional<Cursor> since;
};

inline constexpr size_t kMaxChannelsPerConnection = 128;

// `since_candidates` are tried in order (Last-Event-ID header, lastEventId, since);
// the first present one is used. `require_channels` is false for WebSocket, which
// may subscribe later by command.
[[nodiscard]] std::optional<ClientError> read_subscribe_request(const std::vector<std::string>& channels,
                                                                const std::vector<const std::string*>& since_candidates,
                                                                bool require_channels, SubscribeRequest& out);

[[nodiscard]] std::optional<ClientError> check_channel(const std::string& channel);
[[nodiscard]] std::optional<ClientError> check_cursor(const std::string& text, std::optional<Cursor>& out);

}  // namespace herald
