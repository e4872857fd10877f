// The HTTP side of the cluster tests' clients: one-off requests, the metrics reader,
// and PublishLoop (declared in cluster_support.h).
#include <signal.h>

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cluster_support.h"

namespace herald::test {

using nlohmann::json;

HttpAnswer http_get(int port, const std::string& target, int timeout_s) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_tcp_nodelay(true);
  cli.set_connection_timeout(timeout_s, 0);
  cli.set_read_timeout(timeout_s, 0);
  HttpAnswer a;
  if (auto res = cli.Get(target)) {
    a.status = res->status;
    a.body = res->body;
    a.retry_after = res->get_header_value("Retry-After");
  }
  return a;
}

HttpAnswer http_post(int port, const std::string& target, const std::string& body, int timeout_s) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_tcp_nodelay(true);
  cli.set_connection_timeout(timeout_s, 0);
  cli.set_read_timeout(timeout_s, 0);
  HttpAnswer a;
  if (auto res = cli.Post(target, body, "application/json")) {
    a.status = res->status;
    a.body = res->body;
    a.retry_after = res->get_header_value("Retry-After");
  }
  return a;
}

double metric(int port, const std::string& name) {
  const auto a = http_get(port, "/metrics");
  std::istringstream in(a.body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return -1;
}

PublishLoop::PublishLoop(int port, std::string name, std::vector<std::string> channels, size_t count,
                         std::chrono::milliseconds pause, int batch_every)
    : PublishLoop(std::vector<int>{port}, std::move(name), std::move(channels), count, pause, batch_every) {}

PublishLoop::PublishLoop(std::vector<int> ports, std::string name, std::vector<std::string> channels, size_t count,
                         std::chrono::milliseconds pause, int batch_every)
    : ports_(std::move(ports)), name_(std::move(name)), channels_(std::move(channels)), count_(count), pause_(pause),
      batch_every_(batch_every) {
  // A node may close a keep-alive connection just as the next request is written (a
  // drain does), and cpp-httplib writes without MSG_NOSIGNAL: that must be an error
  // answer, not the end of the test.
  ::signal(SIGPIPE, SIG_IGN);
  thread_ = std::thread([this] { run(); });
}

PublishLoop::~PublishLoop() { stop(); }

void PublishLoop::wait() {
  if (thread_.joinable()) thread_.join();
}

void PublishLoop::stop() {
  stopping_ = true;
  wait();
}

std::vector<PublishOutcome> PublishLoop::outcomes() const {
  std::lock_guard lock(mutex_);
  return outcomes_;
}

size_t PublishLoop::answered() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& o : outcomes_) n += o.datas.size();
  return n;
}

void PublishLoop::run() {
  size_t port_index = 0;
  auto make_client = [&] {
    auto cli = std::make_unique<httplib::Client>("127.0.0.1", ports_[port_index]);
    cli->set_keep_alive(true);
    cli->set_tcp_nodelay(true);  // headers and body go in two writes: without it each request waits for a delayed ACK
    cli->set_read_timeout(30, 0);
    return cli;
  };
  auto cli = make_client();
  size_t k = 0;
  for (int request = 1; k < count_ && !stopping_; ++request) {
    const bool batch = batch_every_ > 0 && request % batch_every_ == 0;
    PublishOutcome o;
    json items = json::array();
    for (size_t i = 0; i < (batch ? 3u : 1u) && k < count_; ++i, ++k) {
      const std::string channel = channels_[k % channels_.size()];
      json data = {{"p", name_}, {"n", k}};
      items.push_back({{"channel", channel}, {"data", data}});
      o.channels.push_back(channel);
      o.datas.push_back(data.dump());
    }
    const std::string body = batch ? items.dump() : items[0].dump();
    o.port = ports_[port_index];
    if (auto res = cli->Post("/api/publish", body, "application/json")) {
      o.answer.status = res->status;
      o.answer.body = res->body;
      o.answer.retry_after = res->get_header_value("Retry-After");
      auto j = json::parse(res->body, nullptr, false);
      if (res->status == 200 && !j.is_discarded()) {  // ids stay empty (a failure) unless they are strings
        for (const auto& id : batch ? j.value("ids", json::array()) : json::array({j.value("id", json())}))
          if (id.is_string()) o.ids.push_back(id.get<std::string>());
      }
    }
    // No answer, or a node refusing new connections while it drains: on to the next node.
    const bool move_on = ports_.size() > 1 && (o.answer.status == 0 || o.answer.status == 503);
    {
      std::lock_guard lock(mutex_);
      outcomes_.push_back(std::move(o));
    }
    if (move_on) {
      port_index = (port_index + 1) % ports_.size();
      cli = make_client();
    }
    if (pause_.count() > 0) std::this_thread::sleep_for(pause_);
  }
}

}  // namespace herald::test
