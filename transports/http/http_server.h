#pragma once
// The listening socket and the worker threads. Each thread runs one epoll set and one
// Herald EventLoop, which owns every connection that thread accepted: reading,
// cutting requests, routing, protocol take-over, fan-out, batched writes, closes.
// Every thread watches the listening socket (EPOLLEXCLUSIVE: one idle thread is woken
// per new connection) and accepts for itself, so a connection never changes thread
// and costs no hand-off.
//
// Why not an HTTP library: Herald needs long streams, WebSocket, bounded write
// queues and writes from the owning loop only. The one we used (Pistache 0.0.5)
// killed long responses, crashed on cross-thread flushes, queued writes by
// descriptor number, bounded nothing, and spent about 850 bytes per connection on
// state Herald never used (a write deque, a peer object and two map entries);
// shared/notes/pistache.md has the measurements.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "transports/http/event_loop.h"

namespace herald {

class HttpServer {
 public:
  explicit HttpServer(ServerContext& ctx);
  ~HttpServer();

  // Binds and starts the worker loops; throws std::runtime_error when it cannot bind.
  void start(const std::string& host, uint16_t port, size_t threads);
  [[nodiscard]] uint16_t port() const;
  // Stops accepting and joins the loops. Main thread.
  void stop();
  // Every loop, for posting work (drain). Valid after start().
  [[nodiscard]] std::vector<EventLoop*> loops() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald
