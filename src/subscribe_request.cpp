#include "src/subscribe_request.h"

#include <algorithm>

#include "src/channel_name.h"

namespace herald {

std::optional<ClientError> check_channel(const std::string& channel) {
  if (valid_channel(channel)) return std::nullopt;
  return ClientError{400, "invalid_channel",
                     "channel names are 1 to 128 characters of A-Z a-z 0-9 _ . : - (got '" + channel.substr(0, 140) + "')"};
}

std::optional<ClientError> check_cursor(const std::string& text, std::optional<Cursor>& out) {
  if (text.empty()) {
    out.reset();
    return std::nullopt;
  }
  out = parse_cursor(text);
  if (out) return std::nullopt;
  return ClientError{400, "invalid_cursor",
                     "the cursor must be an id received from this service, like 'm1a2b3c4d-42' (got '" +
                         text.substr(0, 100) + "')"};
}

std::optional<ClientError> read_subscribe_request(const std::vector<std::string>& channels,
                                                  const std::vector<const std::string*>& since_candidates,
                                                  bool require_channels, SubscribeRequest& out) {
  if (channels.empty() && require_channels)
    return ClientError{400, "missing_channel", "give at least one channel: ?channel=NAME (repeat for more)"};
  if (channels.size() > kMaxChannelsPerConnection)
    return ClientError{400, "too_many_channels",
                       "at most " + std::to_string(kMaxChannelsPerConnection) + " channels per connection"};
  for (const auto& ch : channels) {
    if (auto err = check_channel(ch)) return err;
    if (std::find(out.channels.begin(), out.channels.end(), ch) == out.channels.end()) out.channels.push_back(ch);
  }
  for (const std::string* s : since_candidates) {
    if (!s) continue;
    return check_cursor(*s, out.since);
  }
  return std::nullopt;
}

}  // namespace herald
