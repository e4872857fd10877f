#pragma once
// Herald's event loop: one per HTTP worker thread. The HTTP library accepts
// connections and runs the epoll loop; everything after accept is ours: reading,
// cutting requests, routing, protocol take-over, the fan-out of messages pulled from
// the hub's ring, batched writes, heartbeats and closes. See http_server.cpp for the
// glue to the library.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "src/auth/access.h"
#include "src/config.h"
#include "src/hub.h"
#include "src/local_subscriptions.h"
#include "src/metrics.h"
#include "transports/http/conn.h"
#include "transports/http/http_request.h"

namespace herald {

class EventLoop;
using RouteHandler = std::function<void(EventLoop&, Conn&, HttpRequest&)>;

// What every loop shares. Built once in main; outlives the loops.
struct ServerContext {
  ServerContext(const Config& c, Hub& h, Broker& b, Metrics& m, const Access& a)
      : config(c), hub(h), broker(b), metrics(m), access(a) {}
  const Config& config;
  Hub& hub;
  Broker& broker;
  Metrics& metrics;
  const Access& access;
  std::unordered_map<std::string, RouteHandler> routes;  // exact path -> handler
  RouteHandler fallback;                                 // everything else (static files)
  const TlsContext* tls = nullptr;  // set: every connection speaks TLS (https, wss)
  std::atomic<bool> draining{false};
  std::atomic<int64_t> open_connections{0};
  // Connections per client address, for --max-connections-per-ip (all loops).
  std::mutex per_ip_mu;
  std::unordered_map<std::string, uint32_t> per_ip;
};

// The part of the HTTP library a loop needs. Loop thread only.
class LoopBackend {
 public:
  virtual ~LoopBackend() = default;
  virtual void close_peer(int fd) = 0;
  virtual void watch_writable(int fd) = 0;
};

class EventLoop final : public LoopWaker {
 public:
  EventLoop(size_t index, ServerContext& ctx, LoopBackend& backend);
  ~EventLoop() override;

  // --- called by the HTTP library glue, on this loop's thread ---
  void attach(int fd, std::shared_ptr<void> peer, std::string remote_ip);
  [[nodiscard]] bool owns(int fd) const;
  void on_io(int fd, bool readable, bool writable);
  void on_wake();
  void on_timer();
  void end_of_round();  // flush what this round wrote, close what it closed
  [[nodiscard]] int wake_fd() const { return wake_fd_; }
  [[nodiscard]] int timer_fd() const { return timer_fd_; }

  // --- any thread ---
  void wake() override;
  void post(std::function<void(EventLoop&)> task);

  // --- this loop's thread ---
  [[nodiscard]] Conn* find(uint64_t id);
  [[nodiscard]] ServerContext& ctx() { return ctx_; }
  [[nodiscard]] LocalSubscriptions& subscriptions() { return subscriptions_; }
  // Newest cursor this loop has fanned out: every message up to it has been offered
  // to this loop's sessions, so it is a safe resume point to hand a client.
  [[nodiscard]] const Cursor& dispatched_head() const { return dispatched_head_; }
  [[nodiscard]] int64_t now_ms() const { return now_ms_; }
  [[nodiscard]] size_t index() const { return index_; }
  void mark_dirty(Conn& conn);
  void mark_closing(Conn& conn);
  void process_requests(Conn& conn);  // parse and route what the input buffer holds
  // Shutdown: ends every stream so its client reconnects elsewhere; idle HTTP
  // connections close, requests in progress finish first.
  void drain();
  // Parse buffered requests at the end of this round (after a long-poll answered).
  void resume_requests(Conn& conn);
  void at_round_end(Conn& conn) { round_end_.push_back(conn.id()); }
  // Destroy a handler at the end of the round, not inside its own call.
  void retire(std::unique_ptr<ConnHandler> handler);

 private:
  void read_from(Conn& conn);
  void refuse_plain_http(Conn& conn);
  void flush_conn(Conn& conn);
  void flush_streams();
  void finish_close(Conn& conn);
  void close_all_streams(const char* why);

  size_t index_;
  ServerContext& ctx_;
  LoopBackend& backend_;
  LocalSubscriptions subscriptions_;
  HttpLimits limits_;
  int wake_fd_ = -1;
  int timer_fd_ = -1;
  std::atomic<bool> wake_pending_{false};
  std::mutex posted_mu_;
  std::vector<std::function<void(EventLoop&)>> posted_;

  std::vector<std::unique_ptr<Conn>> conns_;  // indexed by descriptor
  size_t conn_count_ = 0;
  uint64_t next_serial_ = 1;
  std::vector<Conn*> dirty_;    // HTTP connections with bytes queued: flushed every round
  // Streams with bytes queued, flushed a time slice per round; by id, as one may close
  // while it waits.
  std::vector<uint64_t> bulk_;
  size_t bulk_head_ = 0;
  std::vector<Conn*> closing_;
  std::vector<uint64_t> resume_;
  std::vector<uint64_t> round_end_;
  std::vector<std::unique_ptr<ConnHandler>> retired_;

  uint64_t ring_next_ = 0;
  Cursor dispatched_head_;
  std::vector<MessagePtr> batch_;
  int64_t now_ms_ = 0;
};

}  // namespace herald
