// What the cpp-httplib transports (SSE, long-poll) share: the client, the thread and
// an interruptible close(); and the envelope decoding every transport uses.
#include "clients/cpp/client_transport.h"

#include <httplib.h>

namespace herald::client::detail {

namespace {
sigset_t sigpipe_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  return set;
}
}  // namespace

SigpipeGuard::SigpipeGuard() {
  const sigset_t pipe = sigpipe_set();
  sigset_t pending;
  sigemptyset(&pending);
  if (sigpending(&pending) == 0) was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe, &old_mask_);
}

SigpipeGuard::~SigpipeGuard() {
  if (!was_pending_) {
    const sigset_t pipe = sigpipe_set();
    const timespec no_wait{0, 0};
    while (sigtimedwait(&pipe, nullptr, &no_wait) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

HttpWorker::HttpWorker(TransportContext ctx)
    : ctx_(std::move(ctx)), http_(std::make_unique<httplib::Client>(ctx_.url.origin())) {
  const Options& o = *ctx_.options;
  http_->set_connection_timeout(o.probe_timeout);
  http_->set_write_timeout(o.probe_timeout);
  http_->set_url_encode(false);  // stream_path() encodes the query itself
  http_->set_keep_alive(true);
  http_->set_tcp_nodelay(true);  // small requests on a kept-alive connection
}

HttpWorker::~HttpWorker() { close(); }

void HttpWorker::start() {
  thread_ = std::thread([this] {
    Error why;
    {
      SigpipeGuard no_sigpipe;  // the whole life of this I/O thread
      why = work();
    }
    if (!stopping()) post(ClosedEvent{std::move(why)});
    std::lock_guard lock(mu_);
    done_ = true;
    done_cv_.notify_all();
  });
}

void HttpWorker::close() {
  stop_ = true;
  if (!thread_.joinable()) return;
  std::unique_lock lock(mu_);
  while (!done_) {
    lock.unlock();
    http_->stop();
    lock.lock();
    done_cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return done_; });
  }
  lock.unlock();
  thread_.join();
}

Error http_error(int status, const std::string& body, const BaseUrl& url, std::optional<Transport> transport) {
  Error e{"http_" + std::to_string(status), "HTTP " + std::to_string(status) + " from " + url.origin(), transport};
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const auto& err = j["error"];
    if (err.contains("code") && err["code"].is_string()) e.code = err["code"].get<std::string>();
    if (err.contains("message") && err["message"].is_string()) e.message = err["message"].get<std::string>();
  }
  return e;
}

std::vector<std::pair<std::string, std::string>> HttpWorker::auth_headers() const {
  if (ctx_.options->token.empty()) return {};
  return {{"Authorization", "Bearer " + ctx_.options->token}};
}

std::string HttpWorker::stream_path(std::string_view endpoint, const std::optional<std::string>& since) const {
  std::string path = ctx_.url.prefix;
  path += endpoint;
  char sep = '?';
  for (const auto& ch : ctx_.channels) {
    path += sep;
    path += "channel=" + url_encode(ch);
    sep = '&';
  }
  if (since) path += std::string(1, sep) + "since=" + url_encode(*since);
  return path;
}

std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "connection refused or host unreachable";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    case httplib::Error::Read: return "connection broken or silent past the read timeout";
    case httplib::Error::Write: return "write failed";
    case httplib::Error::Canceled: return "canceled";
    default: return "request failed (" + httplib::to_string(error) + ")";
  }
}

std::optional<Envelope> envelope_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return std::nullopt;
  auto ch = j.find("channel");
  auto id = j.find("id");
  if (ch == j.end() || !ch->is_string() || id == j.end() || !id->is_string()) return std::nullopt;
  Envelope e;
  e.channel = ch->get<std::string>();
  e.id = id->get<std::string>();
  if (auto ts = j.find("ts"); ts != j.end() && ts->is_number_integer()) e.ts = ts->get<int64_t>();
  if (auto data = j.find("data"); data != j.end()) e.data = *data;
  return e;
}

}  // namespace herald::client::detail
