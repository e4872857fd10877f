#pragma once
// The inspector's data: GET /api/inspect/stream is a Server-Sent Events stream with one
// `event: stats` a second, whose data is InspectStats' snapshot of this node. The page
// at /inspect/ (clients/inspect/) reads it with EventSource.
//
// Why an SSE endpoint rather than a reserved channel: every message of a channel has a
// cursor in the cluster-wide log, and sessions, history and resume rely on that order.
// Stats are this node's own and must not travel through the broker, so they would need
// a second kind of message with no cursor. An endpoint that speaks the SSE wire format
// needs nothing of the channel model, and still runs on Herald's own loops: each
// stream is a connection owned by its loop like any other.
//
// One thread samples once a second while someone watches: it reads the metrics and the
// broker's status and asks every loop, on that loop's thread, for its channels'
// subscriber counts. The snapshot is built once and shared; each loop's streams pick it
// up on their next tick (every 250 ms) and write it. Nothing is sampled while no
// inspector is open.
//
// With --publish-key set, the stream needs it: `?key=KEY` (EventSource cannot send
// headers) or `Authorization: Bearer KEY`; otherwise 401.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "src/inspect_stats.h"
#include "transports/http/event_loop.h"

namespace herald {

class InspectFeed {
 public:
  explicit InspectFeed(ServerContext& ctx);
  ~InspectFeed();
  InspectFeed(const InspectFeed&) = delete;
  InspectFeed& operator=(const InspectFeed&) = delete;

  // Main thread, once the loops run; stop() before the loops stop.
  void start(std::vector<EventLoop*> loops);
  void stop();

  // Loop threads: the newest snapshot and its number (0 and null before the first).
  [[nodiscard]] std::shared_ptr<const std::string> latest(uint64_t& number) const;
  void viewer_opened();
  void viewer_closed();
  [[nodiscard]] ServerContext& ctx() { return ctx_; }

 private:
  void run();
  void sample();

  ServerContext& ctx_;
  std::vector<EventLoop*> loops_;
  InspectStats stats_;  // the sampling thread's only
  std::atomic<int64_t> viewers_{0};

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::shared_ptr<const std::string> latest_;
  uint64_t number_ = 0;
  std::thread thread_;
};

// Adds GET /api/inspect/stream. Before the loops start (routes are read without locks).
void install_inspect_routes(ServerContext& ctx, InspectFeed& feed);

}  // namespace herald
