#pragma once
// The one place that knows the HTTP library (Pistache). It accepts connections and
// runs one epoll loop per worker thread; each worker's loop is a Herald EventLoop,
// which takes every connection over right after accept. No transport includes
// Pistache: they see EventLoop, Conn and HttpRequest only.
//
// Why take connections over instead of using Pistache's request/response API: in the
// packaged 0.0.5, long responses are killed by its idle checker (with a 408 written
// into the stream), ResponseStream crashes when flushed from another thread, writes
// are queued per descriptor number (a late write can reach the next connection that
// reuses the number), each peer's write queue is unbounded, there is no WebSocket,
// and repeated query keys collapse into one. Measured in shared/notes/pistache.md.
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
