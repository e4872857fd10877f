#pragma once
// One SSE stream read by cpp-httplib on a background thread, parsed into events.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace herald::test {

struct SseEvent {
  std::string id, event, data;
};

class SseReader {
 public:
  SseReader(int port, std::string target, httplib::Headers headers = {})
      : cli_(std::make_unique<httplib::Client>("127.0.0.1", port)) {
    thread_ = std::thread([this, target, headers] {
      auto& cli = *cli_;
      cli.set_read_timeout(60, 0);
      auto res = cli.Get(target, headers, [this](const httplib::Response& r) {
        std::lock_guard lock(mu_);
        status_ = r.status;
        response_headers_ = r.headers;
        cv_.notify_all();
        return true;
      }, [this](const char* data, size_t len) {
        std::lock_guard lock(mu_);
        feed(std::string_view(data, len));
        cv_.notify_all();
        return !stop_;
      });
      std::lock_guard lock(mu_);
      ended_ = true;
      if (res && status_ == 0) status_ = res->status;
      if (res && status_ >= 400) body_ = res->body;
      cv_.notify_all();
    });
  }
  ~SseReader() {
    stop_ = true;
    status();      // stopping the client while it connects is not safe in cpp-httplib
    cli_->stop();  // unblocks a read that would otherwise wait for the next heartbeat
    thread_.join();
  }

  // Waits until `pred(events)` holds; false on timeout.
  template <typename Pred>
  bool wait(Pred pred, int timeout_ms = 10000) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return pred(events_); });
  }
  bool wait_events(const std::string& type, size_t n, int timeout_ms = 10000) {
    return wait([&](const std::vector<SseEvent>& ev) { return count(ev, type) >= n; }, timeout_ms);
  }
  std::vector<SseEvent> events(const std::string& type = "") {
    std::lock_guard lock(mu_);
    std::vector<SseEvent> out;
    for (auto& e : events_)
      if (type.empty() || e.event == type) out.push_back(e);
    return out;
  }
  size_t comments() {
    std::lock_guard lock(mu_);
    return comments_;
  }
  std::string raw() {
    std::lock_guard lock(mu_);
    return raw_;
  }
  int status() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return status_ != 0 || ended_; });
    return status_;
  }
  std::string header(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = response_headers_.find(name);
    return it == response_headers_.end() ? "" : it->second;
  }
  bool ended() {
    std::lock_guard lock(mu_);
    return ended_;
  }
  void stop() { stop_ = true; }

 private:
  static size_t count(const std::vector<SseEvent>& ev, const std::string& type) {
    size_t n = 0;
    for (auto& e : ev) n += e.event == type ? 1 : 0;
    return n;
  }
  void feed(std::string_view chunk) {
    raw_.append(chunk);
    pending_.append(chunk);
    size_t eol;
    while ((eol = pending_.find('\n')) != std::string::npos) {
      std::string line = pending_.substr(0, eol);
      pending_.erase(0, eol + 1);
      if (line.empty()) {
        if (!cur_.event.empty() || !cur_.data.empty()) {
          if (cur_.event.empty()) cur_.event = "message";
          events_.push_back(cur_);
        }
        cur_ = {};
      } else if (line[0] == ':') {
        ++comments_;
      } else if (line.rfind("id: ", 0) == 0) {
        cur_.id = line.substr(4);
      } else if (line.rfind("event: ", 0) == 0) {
        cur_.event = line.substr(7);
      } else if (line.rfind("data: ", 0) == 0) {
        cur_.data += line.substr(6);
      }
    }
  }

  std::unique_ptr<httplib::Client> cli_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  std::vector<SseEvent> events_;
  SseEvent cur_;
  std::string pending_, raw_, body_;
  size_t comments_ = 0;
  int status_ = 0;
  bool ended_ = false;
  httplib::Headers response_headers_;
};

}  // namespace herald::test
