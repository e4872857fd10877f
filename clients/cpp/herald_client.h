#pragma once
// Herald's C++ client: one connection to a Herald server carries every subscribed
// channel, over WebSocket, SSE or long-poll, with the same semantics as the browser
// client (clients/js/herald.js):
//
// - Transports are tried in the order of Options::transports (WebSocket, SSE,
//   long-poll by default). A transport counts as working only once data flowed on it
//   (WebSocket: a "subscribed" or "pong" frame; SSE: the "subscribed" event;
//   long-poll: the first answer); one that fails or stays silent for probe_timeout
//   hands over to the next. A round of connection attempts starts with the transport
//   that worked last; while a later transport carries the channels, the better ones
//   are tried again in the background every failback_interval.
// - A lost connection is reopened after an exponential backoff with full jitter
//   (a delay drawn uniformly from [0, min(max, initial * 2^attempt))).
// - Every channel resumes from the cursor of the last message it delivered, and a
//   message whose cursor is not after that one is dropped, so nothing is delivered
//   twice. When the server cannot replay what was missed (history evicted, or a new
//   epoch because the server's log was lost) on_gap says so, and delivery continues.
// - Publishing is a plain HTTP request (POST /api/publish) on the caller's thread.
//
// Threads: the Client owns one thread (started by start()) that runs the connection
// state machine and calls every callback, one at a time, in delivery order. Each
// open transport also has an I/O thread that only reads and writes its socket and
// hands what it read to the client thread. Public methods may be called from any
// thread unless said otherwise; callbacks must not block for long, since messages
// wait (and, past Options::event_queue_limit, the sockets stop being read) meanwhile.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace herald::client {

enum class Transport : uint8_t { WebSocket, Sse, LongPoll };

// "websocket", "sse", "longpoll": the names the browser client and herald-cli use.
[[nodiscard]] std::string_view transport_name(Transport transport);
[[nodiscard]] std::optional<Transport> parse_transport(std::string_view name);

// One delivered message, as the server's envelope holds it.
struct Envelope {
  std::string channel;
  std::string id;  // its cursor, "<epoch>-<seq>"
  int64_t ts = 0;  // publish time, unix milliseconds
  nlohmann::json data;
};

// Messages of `channel` may have been missed between `last_cursor` (the last one the
// client had) and `cursor` (where delivery goes on): the server no longer held them.
// With `skipped` > 0 the server conflated instead (a slow connection on a namespace
// whose slow_consumer policy is "latest"): that many messages were replaced by the
// newest, which is delivered next; `cursor` is then empty.
struct Gap {
  std::string channel;
  std::string last_cursor;
  std::string cursor;
  uint64_t skipped = 0;
};

// What went wrong and, where it applies, on which transport. `code` is
// machine-readable: the server's own code (e.g. "invalid_channel", "unauthorized"),
// "http_<status>" for an HTTP answer without one, or one of the client's:
// "connect_failed", "handshake_failed", "protocol_error", "closed", "idle",
// "probe_timeout", "round_failed" (every transport failed once; a retry follows
// after the backoff) and "callback" (a callback threw).
struct Error {
  std::string code;
  std::string message;
  std::optional<Transport> transport;
};

// A value or the Error that prevented it (std::expected arrives with C++23).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT
  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  [[nodiscard]] const T& value() const { return std::get<0>(v_); }
  [[nodiscard]] const Error& error() const { return std::get<1>(v_); }
  const T& operator*() const { return value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

struct Backoff {
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{30000};
};

// Meant for designated initializers (Options{.base_url = ..., .publish_key = ...}):
// every member has a default, so any subset may be named, in declaration order.
struct Options {
  // "http://host:port", optionally with a path prefix ("http://host/push").
  std::string base_url{};
  std::vector<Transport> transports{Transport::WebSocket, Transport::Sse, Transport::LongPoll};
  // Sent as "Authorization: Bearer KEY" by publish(); empty sends none.
  std::string publish_key{};
  // A client token for private channels, sent as "Authorization: Bearer TOKEN" when
  // each WebSocket, SSE or long-poll connection opens; empty sends none.
  std::string token{};
  Backoff backoff{};
  // How long a new connection may take to carry its first data before the next
  // transport is tried; also the TCP connect timeout.
  std::chrono::milliseconds probe_timeout{5000};
  // A stream silent for this long (no data, no heartbeat) is taken for dead. The
  // server's heartbeats come every 15 s by default.
  std::chrono::milliseconds idle_timeout{45000};
  // WebSocket: how often the client sends {"op":"ping"}.
  std::chrono::milliseconds ping_interval{20000};
  // Long-poll: how long the server holds each poll.
  std::chrono::seconds poll_timeout{25};
  // While on a transport after the first, how often the better ones are retried;
  // zero disables failback.
  std::chrono::milliseconds failback_interval{60000};
  // Largest WebSocket message or SSE event accepted from the server.
  size_t max_message_size = 16u << 20;
  // Events (mostly messages) read but not yet taken up by the client thread, which
  // takes them in batches; when full the I/O threads wait, the sockets stop being
  // read and the server's own limit on a slow client takes over (it disconnects,
  // and the client resumes from its cursors). At least 1.
  size_t event_queue_limit = 10000;
  // Timeout of one publish request.
  std::chrono::milliseconds publish_timeout{10000};
};

struct PublishItem {
  std::string channel;
  nlohmann::json data;
};

class Client {
 public:
  // Throws std::invalid_argument for a base_url that is not http://host[:port][/path]
  // or an empty transport list: configuration errors, found before anything runs.
  explicit Client(Options options);
  // Stops the client (see stop()).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Callbacks, called on the client's thread. Set them before start(); setting one
  // while the client runs is not synchronised. An exception a callback throws is
  // caught and reported to on_error with code "callback".
  void on_message(std::function<void(const Envelope&)> fn);
  void on_gap(std::function<void(const Gap&)> fn);
  // A transport became the working one: at each (re)connection and failback.
  void on_transport(std::function<void(Transport)> fn);
  void on_error(std::function<void(const Error&)> fn);

  // Adds a channel, resumed after `since` (a cursor from this server) when given,
  // else from now. Subscribing again to a channel already held changes nothing.
  // Works before and after start(). Throws std::invalid_argument for a name outside
  // 1-128 characters of A-Z a-z 0-9 _ . : - or a malformed cursor.
  void subscribe(const std::string& channel, const std::optional<std::string>& since = std::nullopt);
  void unsubscribe(const std::string& channel);

  // Starts the client's thread; connecting begins once a channel is subscribed.
  // Calling it again, or after stop(), does nothing.
  void start();
  // Closes every connection and ends the client's thread; no callback runs after
  // it returns. Called from a callback it only asks the thread to end (the thread
  // cannot wait for itself); the destructor then finishes the job.
  void stop();

  // The working transport, if connected.
  [[nodiscard]] std::optional<Transport> transport() const;
  // The cursor a channel would resume from now, if it has one.
  [[nodiscard]] std::optional<std::string> cursor(const std::string& channel) const;

  // POST /api/publish on the calling thread; the cursor the server gave the message.
  // Requests from several threads share one keep-alive connection, one at a time.
  Result<std::string> publish(const std::string& channel, const nlohmann::json& data);
  Result<std::vector<std::string>> publish(const std::vector<PublishItem>& items);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald::client
