#pragma once
// Per-namespace policy, from the JSON file given with --config (README, "Security"):
//   {"default": {...}, "namespaces": {"scores": {"private": false, "history": 500}, ...}}
// A channel's namespace is the part of its name before the first ':'. Fields left out
// take the default, whose own defaults come from the command-line flags.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "src/config.h"
#include "src/history.h"

namespace herald {

// What happens to a subscriber that cannot keep up (README, "Slow consumers"):
// Disconnect: a full outbox closes the connection; the client resumes from its cursor.
// Latest: once the connection is backlogged, only the newest message of each of its
// channels waits (conflation), preceded by a gap notice saying how many were skipped.
enum class SlowConsumerPolicy { Disconnect, Latest };

struct NamespacePolicy {
  bool is_private = false;       // subscribers need a token whose `channels` match
  bool client_publish = false;   // WebSocket clients may publish here
  bool presence = false;         // subscribers are listed, with join/leave events (needs a token with `sub`)
  size_t history = 1000;
  int64_t history_age_s = 3600;
  SlowConsumerPolicy slow_consumer = SlowConsumerPolicy::Disconnect;
};

class Namespaces {
 public:
  // Defaults from the flags only.
  explicit Namespaces(const Config& config);
  // Reads --config; throws std::invalid_argument naming the file and the field.
  static Namespaces load(const Config& config);

  [[nodiscard]] const NamespacePolicy& for_channel(std::string_view channel) const;
  [[nodiscard]] HistoryLimits history_limits(std::string_view channel) const;
  [[nodiscard]] bool conflates(std::string_view channel) const {
    return for_channel(channel).slow_consumer == SlowConsumerPolicy::Latest;
  }

 private:
  void add_client_publish_flags(const Config& config);
  NamespacePolicy default_;
  std::map<std::string, NamespacePolicy, std::less<>> by_name_;
};

}  // namespace herald
