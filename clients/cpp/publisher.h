#pragma once
// POST /api/publish for Client::publish. Any thread may call; requests share one
// keep-alive connection and run one at a time (a mutex), each bounded by
// Options::publish_timeout.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clients/cpp/base_url.h"
#include "clients/cpp/herald_client.h"

namespace httplib {
class Client;
}

namespace herald::client::detail {

class Publisher {
 public:
  Publisher(BaseUrl url, std::string key, std::chrono::milliseconds timeout);
  ~Publisher();

  // `body` is one {"channel","data"} object (answer {"id"}) or an array (answer
  // {"ids"}); the cursors the server gave, in order.
  Result<std::vector<std::string>> post(const nlohmann::json& body);

 private:
  BaseUrl url_;
  std::string key_;
  std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::unique_ptr<httplib::Client> http_;  // made at the first publish
};

}  // namespace herald::client::detail
