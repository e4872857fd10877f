#pragma once
// A cursor names a position in the node's (or cluster's) message log.
// Wire form: "<epoch>-<seq>". The epoch changes when the log is lost (an embedded
// broker restarted), so a client holding an old cursor is told it missed messages
// instead of silently resuming at a wrong place. seq is strictly increasing inside
// an epoch but need not be contiguous (RabbitMQ stream offsets skip numbers).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald {

struct Cursor {
  std::string epoch;
  uint64_t seq = 0;

  std::string str() const;
  bool operator==(const Cursor&) const = default;
};

// Parses the wire form; nullopt for anything malformed (callers answer 400).
[[nodiscard]] std::optional<Cursor> parse_cursor(std::string_view text);

}  // namespace herald
