#pragma once
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

namespace herald::test {

inline nlohmann::json publish(int port, const std::string& channel, const nlohmann::json& data,
                              const std::string& key = "") {
  httplib::Client cli("127.0.0.1", port);
  httplib::Headers h;
  if (!key.empty()) h.emplace("Authorization", "Bearer " + key);
  nlohmann::json body = {{"channel", channel}, {"data", data}};
  auto res = cli.Post("/api/publish", h, body.dump(), "application/json");
  if (!res || res->status != 200) throw std::runtime_error("publish failed: " + (res ? res->body : "no answer"));
  return nlohmann::json::parse(res->body);
}

inline uint64_t seq_of(const std::string& cursor) { return std::stoull(cursor.substr(cursor.rfind('-') + 1)); }

}  // namespace herald::test
