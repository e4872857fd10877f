#pragma once
// The seam between the client's state machine (client.cpp) and its transports. A
// transport only moves bytes: it opens one connection for a set of channels, turns
// what the server sends into TransportEvents and posts them to the client thread.
// Which cursor to resume from, what is a duplicate, what is a gap, when to fall back
// or reconnect: all of that is decided once, on the client thread.
//
// Threads: a transport runs its socket on its own I/O thread, started by its open_*
// function. subscribe(), unsubscribe() and close() are called from the client thread
// only. After close() returns the I/O thread has ended and posts nothing more.
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "clients/cpp/base_url.h"
#include "clients/cpp/herald_client.h"

namespace httplib {
class Client;
enum class Error;
}

namespace herald::client::detail {

// The server streams `channels` from `cursor` on; with a resume cursor it first
// replays what it holds after it. recovered=false: it could not replay everything.
struct SubscribedEvent {
  std::vector<std::string> channels;
  bool recovered = true;
  std::string cursor;
};

struct MessageEvent {
  Envelope envelope;
};

// One long-poll answer: `messages`, then every channel is complete up to `cursor`.
// `skipped`: per "latest" channel, how many messages the answer left out for its newest.
struct BatchEvent {
  std::vector<std::string> channels;
  bool recovered = true;
  std::vector<Envelope> messages;
  std::string cursor;
  std::vector<std::pair<std::string, uint64_t>> skipped = {};
};

// A stream's gap notice: `skipped` messages of `channel` were replaced by the newest,
// which comes next (the server conflated a slow connection).
struct SkippedEvent {
  std::string channel;
  uint64_t skipped = 0;
};

// An answer the server gave to this client without a message, like a pong: it proves
// the path works both ways. (Heartbeats are not posted: liveness is each transport's
// own read timeout.)
struct AliveEvent {};

// The server reported an error; the connection stays up.
struct ServerErrorEvent {
  Error error;
};

// The connection is over (the I/O thread is ending); `error` says why.
struct ClosedEvent {
  Error error;
};

using TransportEvent =
    std::variant<SubscribedEvent, MessageEvent, BatchEvent, SkippedEvent, AliveEvent, ServerErrorEvent, ClosedEvent>;

// Implemented by the client. post() may be called from any I/O thread; it waits while
// the client's queue is full, unless the connection `link` was retired meanwhile (then
// the event is dropped), so a transport being closed never waits forever.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void post(uint64_t link, TransportEvent event) = 0;
};

// What a transport is opened with. The cursors are the client's at open time.
struct TransportContext {
  BaseUrl url;
  const Options* options = nullptr;  // owned by the client, outlives every transport
  uint64_t link = 0;                 // names this connection in every post()
  EventSink* sink = nullptr;
  std::vector<std::string> channels;
  std::map<std::string, std::optional<std::string>> since;  // per channel (WebSocket)
  std::optional<std::string> cursor;                         // one resume cursor (SSE, long-poll)
};

class ClientTransport {
 public:
  virtual ~ClientTransport() = default;
  // True when channels can be added and removed on the open connection; otherwise
  // the client opens a fresh connection for a changed set.
  [[nodiscard]] virtual bool can_change_channels() const { return false; }
  virtual void subscribe(const std::string& /*channel*/, const std::optional<std::string>& /*since*/) {}
  virtual void unsubscribe(const std::string& /*channel*/) {}
  // Ends the connection and waits for the I/O thread; idempotent.
  virtual void close() = 0;
};

[[nodiscard]] std::unique_ptr<ClientTransport> open_websocket(TransportContext ctx);
[[nodiscard]] std::unique_ptr<ClientTransport> open_sse(TransportContext ctx);
[[nodiscard]] std::unique_ptr<ClientTransport> open_longpoll(TransportContext ctx);

// cpp-httplib 0.11 writes with send(..., 0): a write to a connection the server has
// closed raises SIGPIPE, which kills a process that did not ignore it. A library may
// not change the process's signal handling, so every cpp-httplib call runs under
// this guard: SIGPIPE is blocked on the calling thread for the scope, and one raised
// meanwhile is taken off the thread before its mask is restored (the write itself
// fails with EPIPE, which cpp-httplib reports as an error).
class SigpipeGuard {
 public:
  SigpipeGuard();
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_mask_;
  bool was_pending_ = false;  // a SIGPIPE that was not ours is left alone
};

// Shared by the transports built on cpp-httplib (SSE, long-poll): one httplib::Client
// used by one I/O thread, and a close() that can interrupt a blocking request.
// cpp-httplib's Client::stop() only shuts a socket that is in use, so a request that
// had not opened its socket yet would be missed; close() therefore repeats it until
// the thread is gone (work() must also check stopping() between requests).
class HttpWorker : public ClientTransport {
 public:
  explicit HttpWorker(TransportContext ctx);
  ~HttpWorker() override;
  void close() final;

 protected:
  // Starts the I/O thread running work(); call at the end of the derived constructor.
  void start();
  // The I/O thread's body; returns when the connection is over. Its ClosedEvent is
  // posted by the caller unless close() was called.
  virtual Error work() = 0;
  [[nodiscard]] bool stopping() const { return stop_.load(); }
  [[nodiscard]] httplib::Client& http() { return *http_; }
  void post(TransportEvent event) { ctx_.sink->post(ctx_.link, std::move(event)); }
  // Headers every request carries (the token, if any).
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> auth_headers() const;
  // The path of an endpoint ("/sse") with the channels and, if any, the cursor.
  [[nodiscard]] std::string stream_path(std::string_view endpoint, const std::optional<std::string>& since) const;

  TransportContext ctx_;

 private:
  std::unique_ptr<httplib::Client> http_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;
};

// The error an HTTP answer from `url` carries: the server's {"error":{code,message}}
// when the body holds one, else "http_<status>".
[[nodiscard]] Error http_error(int status, const std::string& body, const BaseUrl& url,
                               std::optional<Transport> transport);

// cpp-httplib's failure as words for an Error message ("connection refused or
// unreachable" rather than its enum name "Connection").
[[nodiscard]] std::string describe(httplib::Error error);

// Envelope from its JSON form; nullopt when a required field is missing.
[[nodiscard]] std::optional<Envelope> envelope_from_json(const nlohmann::json& j);

}  // namespace herald::client::detail
