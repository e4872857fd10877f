#include "src/namespaces.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "src/channel_name.h"

namespace herald {
namespace {

NamespacePolicy read_policy(const nlohmann::json& j, NamespacePolicy base, const std::string& where) {
  if (!j.is_object()) throw std::invalid_argument(where + ": expected an object");
  for (const auto& [key, value] : j.items()) {
    // `&key = key`: clang before 16 (the fuzzers' compiler) cannot capture a structured binding.
    auto fail = [&, &key = key](const char* what) { throw std::invalid_argument(where + "." + key + ": " + what); };
    if (key == "private") {
      if (!value.is_boolean()) fail("expected true or false");
      base.is_private = value.get<bool>();
    } else if (key == "client_publish") {
      if (!value.is_boolean()) fail("expected true or false");
      base.client_publish = value.get<bool>();
    } else if (key == "presence") {
      if (!value.is_boolean()) fail("expected true or false");
      base.presence = value.get<bool>();
    } else if (key == "history") {
      if (!value.is_number_unsigned() || value.get<size_t>() < 1) fail("expected a positive integer");
      base.history = value.get<size_t>();
    } else if (key == "history_age") {
      if (!value.is_number_unsigned() || value.get<uint64_t>() < 1 || value.get<uint64_t>() > kMaxHistoryAgeSeconds)
        fail("expected seconds, a positive integer up to 2592000 (30 days)");
      static_assert(kMaxHistoryAgeSeconds == 2592000, "the message above names the bound");
      base.history_age_s = value.get<int64_t>();
    } else if (key == "slow_consumer") {
      const std::string v = value.is_string() ? value.get<std::string>() : "";
      if (v == "disconnect") {
        base.slow_consumer = SlowConsumerPolicy::Disconnect;
      } else if (v == "latest") {
        base.slow_consumer = SlowConsumerPolicy::Latest;
      } else {
        fail("expected \"disconnect\" or \"latest\"");
      }
    } else {
      fail("unknown setting (private, client_publish, presence, history, history_age, slow_consumer)");
    }
  }
  return base;
}

}  // namespace

Namespaces::Namespaces(const Config& config) {
  default_.history = config.history;
  default_.history_age_s = config.history_age_s;
  add_client_publish_flags(config);
}

void Namespaces::add_client_publish_flags(const Config& config) {
  for (const auto& ns : config.client_publish) {
    NamespacePolicy p = default_;
    p.client_publish = true;
    by_name_[ns] = p;
  }
}

Namespaces Namespaces::load(const Config& config) {
  Namespaces out(config);
  if (config.config_file.empty()) return out;
  std::ifstream in(config.config_file);
  if (!in) throw std::invalid_argument("--config: cannot read " + config.config_file);
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::invalid_argument(config.config_file + ": not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key == "default") {
      out.default_ = read_policy(value, out.default_, config.config_file + ": default");
      out.add_client_publish_flags(config);
    } else if (key != "namespaces") {
      throw std::invalid_argument(config.config_file + ": unknown key '" + key + "' (default, namespaces)");
    }
  }
  if (auto ns = j.find("namespaces"); ns != j.end()) {
    if (!ns->is_object()) throw std::invalid_argument(config.config_file + ": namespaces: expected an object");
    for (const auto& [name, value] : ns->items()) {
      if (!name.empty() && (!valid_channel(name) || name.find(':') != std::string::npos))
        throw std::invalid_argument(config.config_file + ": '" + name + "' is not a namespace name");
      NamespacePolicy base = out.default_;
      if (auto flag = out.by_name_.find(name); flag != out.by_name_.end()) base.client_publish = true;
      out.by_name_[name] = read_policy(value, base, config.config_file + ": namespaces." + name);
    }
  }
  return out;
}

const NamespacePolicy& Namespaces::for_channel(std::string_view channel) const {
  auto it = by_name_.find(channel_namespace(channel));
  return it == by_name_.end() ? default_ : it->second;
}

HistoryLimits Namespaces::history_limits(std::string_view channel) const {
  const auto& p = for_channel(channel);
  return HistoryLimits{p.history, std::chrono::seconds(p.history_age_s)};
}

}  // namespace herald
