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

// Only Disconnect exists today: a full outbox closes the connection and the client
// resumes from its cursor. Conflation ("latest") is planned.
enum class SlowConsumerPolicy { Disconnect };

struct NamespacePolicy {
  bool is_private = false;       // subscribers need a token whose `channels` match
  bool client_publish = false;   // WebSocket clients may publish here
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

 private:
  void add_client_publish_flags(const Config& config);
  NamespacePolicy default_;
  std::map<std::string, NamespacePolicy, std::less<>> by_name_;
};

}  // namespace herald
