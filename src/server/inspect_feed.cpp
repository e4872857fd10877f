#include "src/server/inspect_feed.h"

#include <openssl/crypto.h>

#include <chrono>

#include "src/clock.h"
#include "src/message.h"
#include "transports/http/http_response.h"
#include "transports/sse/sse_transport.h"

namespace herald {
namespace {

constexpr auto kSampleEvery = std::chrono::milliseconds(1000);
// A loop that does not answer within this is left out of one snapshot's channel counts.
constexpr auto kLoopAnswerWait = std::chrono::milliseconds(500);

// Every loop's channel counts, gathered by tasks that run on the loops' own threads.
// Shared with those tasks: a loop that answers after the wait writes here harmlessly.
struct Gathering {
  std::mutex mutex;
  std::condition_variable done;
  size_t waiting = 0;
  ChannelTally tally;
};

class InspectStream final : public ConnHandler {
 public:
  InspectStream(InspectFeed& feed, Conn& conn, bool chunked, int64_t now_ms)
      : feed_(feed), conn_(conn), chunked_(chunked), heartbeat_ms_(feed.ctx().config.heartbeat_ms),
        next_heartbeat_(now_ms + heartbeat_ms_) {
    feed_.viewer_opened();
  }
  ~InspectStream() override {
    if (!closed_) feed_.viewer_closed();
  }

  void write_event(std::string_view event) {
    std::string out;
    if (chunked_) {
      append_http_chunk(out, event);
    } else {
      out.assign(event);
    }
    conn_.write(std::move(out));
  }

  void on_tick(Conn&, int64_t now_ms) override {
    uint64_t number = 0;
    const auto snapshot = feed_.latest(number);
    if (snapshot && number != sent_) {
      sent_ = number;
      write_event("event: stats\ndata: " + *snapshot + "\n\n");
      next_heartbeat_ = now_ms + heartbeat_ms_;
    } else if (now_ms >= next_heartbeat_) {
      next_heartbeat_ = now_ms + heartbeat_ms_;
      write_event(":hb\n\n");
    }
  }

  void on_drain(Conn&) override {
    write_event("retry: 500\n: server shutting down\n\n");
    if (chunked_) conn_.write("0\r\n\r\n");
    conn_.close_after_flush();
  }

  void on_closed(Conn&) override {
    if (!closed_) feed_.viewer_closed();
    closed_ = true;
  }

 private:
  InspectFeed& feed_;
  Conn& conn_;
  bool chunked_;
  int64_t heartbeat_ms_;
  int64_t next_heartbeat_;
  uint64_t sent_ = 0;
  bool closed_ = false;
};

bool same_key(const std::string& given, const std::string& key) {
  return given.size() == key.size() && CRYPTO_memcmp(given.data(), key.data(), key.size()) == 0;
}

// The inspector shows every channel name and rate of the node: with a publish key set,
// it is as private as publishing. It opens with the key, or with a token whose claims
// say `"inspect": true` (for people who must not hold the publish key).
std::optional<ClientError> check_access(const ServerContext& ctx, const HttpRequest& req) {
  const std::string& key = ctx.config.publish_key;
  if (key.empty()) return std::nullopt;
  const auto bearer = bearer_of(req.header("authorization"));
  if (bearer && same_key(*bearer, key)) return std::nullopt;
  if (const auto param = req.param("key"); param && same_key(*param, key)) return std::nullopt;
  auto token = req.param("token");
  if (!token && bearer) token = bearer;
  if (token && !ctx.config.token_secret.empty()) {
    std::optional<TokenClaims> claims;
    if (auto err = ctx.access.read_token(&*token, unix_ms() / 1000, claims)) return err;
    if (claims->inspect) return std::nullopt;
    return ClientError{403, "forbidden", "the token does not grant the inspector (it needs \"inspect\": true)"};
  }
  return ClientError{401, "unauthorized",
                     "the inspector needs the publish key (?key=KEY or 'Authorization: Bearer KEY') or a token "
                     "with \"inspect\": true (?token=...)"};
}

void handle_inspect_stream(InspectFeed& feed, EventLoop& loop, Conn& conn, HttpRequest& req) {
  auto& ctx = loop.ctx();
  if (req.method != "GET") {
    conn.write(http_response(405, "application/json",
                             json_error_body("method_not_allowed", "use GET for /api/inspect/stream"),
                             req.keep_alive(), "Allow: GET\r\n"));
    return;
  }
  if (auto err = check_access(ctx, req)) {
    ctx.metrics.client_errors++;
    conn.write(error_response(*err, req.keep_alive()));
    return;
  }
  const bool chunked = req.version == "HTTP/1.1";
  conn.write(sse_response_head(chunked));
  auto stream = std::make_unique<InspectStream>(feed, conn, chunked, loop.now_ms());
  InspectStream& s = *stream;
  conn.take_over(std::move(stream), TransportKind::Sse);
  s.write_event("retry: 2000\n\n");
  s.on_tick(conn, loop.now_ms());  // the last snapshot at once, if there is one
}

}  // namespace

InspectFeed::InspectFeed(ServerContext& ctx) : ctx_(ctx) {}

InspectFeed::~InspectFeed() { stop(); }

void InspectFeed::start(std::vector<EventLoop*> loops) {
  loops_ = std::move(loops);
  thread_ = std::thread([this] { run(); });
}

void InspectFeed::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const std::string> InspectFeed::latest(uint64_t& number) const {
  std::lock_guard lock(mutex_);
  number = number_;
  return latest_;
}

void InspectFeed::viewer_opened() {
  if (viewers_.fetch_add(1) != 0) return;
  // The first viewer gets a fresh snapshot at once, never one left from earlier viewers.
  {
    std::lock_guard lock(mutex_);
    latest_.reset();
  }
  wake_.notify_all();
}

void InspectFeed::viewer_closed() { viewers_.fetch_sub(1); }

void InspectFeed::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (viewers_.load() == 0) {
      stats_.reset();
      wake_.wait_for(lock, kSampleEvery, [&] { return stopping_ || viewers_.load() > 0; });
      continue;
    }
    lock.unlock();
    sample();
    lock.lock();
    wake_.wait_for(lock, kSampleEvery, [&] { return stopping_; });
  }
}

void InspectFeed::sample() {
  auto gathering = std::make_shared<Gathering>();
  gathering->waiting = loops_.size();
  for (EventLoop* loop : loops_) {
    loop->post([gathering](EventLoop& l) {
      std::lock_guard lock(gathering->mutex);
      l.subscriptions().for_each_channel(
          [&](const std::string& channel, size_t sessions) { gathering->tally.add(channel, sessions); });
      if (--gathering->waiting == 0) gathering->done.notify_all();
    });
  }
  ChannelTally tally;
  {
    std::unique_lock lock(gathering->mutex);
    gathering->done.wait_for(lock, kLoopAnswerWait, [&] { return gathering->waiting == 0; });
    tally = gathering->tally;
  }

  InspectNodeState state;
  state.node = ctx_.config.node_id;
  state.broker_kind = ctx_.config.broker == "memory" ? "memory" : "rabbitmq";
  state.broker = ctx_.broker.status();
  state.history_messages = ctx_.hub.history().size();
  state.history_channels = ctx_.hub.history().channel_count();
  state.draining = ctx_.draining.load();
  state.inspectors = viewers_.load();
  state.unix_ms = unix_ms();
  auto snapshot = std::make_shared<const std::string>(
      stats_.update(InspectSample::read(ctx_.metrics, mono_ms()), tally, state));

  std::lock_guard lock(mutex_);
  latest_ = std::move(snapshot);
  ++number_;
}

void install_inspect_routes(ServerContext& ctx, InspectFeed& feed) {
  ctx.routes["/api/inspect/stream"] = [&feed](EventLoop& loop, Conn& conn, HttpRequest& req) {
    handle_inspect_stream(feed, loop, conn, req);
  };
}

}  // namespace herald
