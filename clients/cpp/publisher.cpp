#include "clients/cpp/publisher.h"

#include <httplib.h>

#include "clients/cpp/client_transport.h"

namespace herald::client::detail {

Publisher::Publisher(BaseUrl url, std::string key, std::chrono::milliseconds timeout)
    : url_(std::move(url)), key_(std::move(key)), timeout_(timeout) {}

Publisher::~Publisher() = default;

Result<std::vector<std::string>> Publisher::post(const nlohmann::json& body) {
  std::lock_guard lock(mu_);
  if (!http_) {
    http_ = std::make_unique<httplib::Client>(url_.origin());
    http_->set_connection_timeout(timeout_);
    http_->set_read_timeout(timeout_);
    http_->set_write_timeout(timeout_);
    http_->set_keep_alive(true);
    // Headers and body leave in separate writes; without this, Nagle's algorithm
    // holds the body for the server's delayed ACK (about 40 ms per publish).
    http_->set_tcp_nodelay(true);
  }
  httplib::Headers headers;
  if (!key_.empty()) headers.emplace("Authorization", "Bearer " + key_);
  const std::string path = url_.prefix + "/api/publish";
  SigpipeGuard no_sigpipe;
  auto res = http_->Post(path, headers, body.dump(), "application/json");
  if (!res) {
    return Error{"connect_failed", "cannot publish to " + url_.origin() + path + ": " + describe(res.error()),
                 std::nullopt};
  }
  if (res->status != 200) return http_error(res->status, res->body, url_, std::nullopt);
  auto answer = nlohmann::json::parse(res->body, nullptr, false);
  std::vector<std::string> ids;
  if (answer.is_object() && answer.contains("id") && answer["id"].is_string()) {
    ids.push_back(answer["id"].get<std::string>());
  } else if (answer.is_object() && answer.contains("ids") && answer["ids"].is_array()) {
    for (const auto& id : answer["ids"])
      if (id.is_string()) ids.push_back(id.get<std::string>());
  }
  const size_t expected = body.is_array() ? body.size() : 1;
  if (ids.size() != expected)
    return Error{"protocol_error", "the publish answer holds no cursor for every message: " + res->body.substr(0, 200),
                 std::nullopt};
  return ids;
}

}  // namespace herald::client::detail
