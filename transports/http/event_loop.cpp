#include "transports/http/event_loop.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>

#include "src/clock.h"
#include "transports/http/http_response.h"

namespace herald {
namespace {
constexpr int64_t kTickMs = 250;
constexpr int64_t kHeaderTimeoutMs = 10000;   // a request must arrive whole within this
constexpr int64_t kKeepAliveIdleMs = 75000;   // idle keep-alive connections are closed after
constexpr size_t kReadChunk = 64 * 1024;
// How long one round may spend writing to streams before it looks for new input.
constexpr auto kStreamSlice = std::chrono::microseconds(1000);
}  // namespace

EventLoop::EventLoop(size_t index, ServerContext& ctx, LoopBackend& backend)
    : index_(index), ctx_(ctx), backend_(backend),
      subscriptions_(&ctx.hub, [&ns = ctx.access.namespaces()](std::string_view ch) { return ns.conflates(ch); }) {
  limits_.max_body_bytes = ctx.config.max_body;
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (wake_fd_ < 0 || timer_fd_ < 0) throw std::runtime_error("eventfd/timerfd failed");
  itimerspec spec{};
  spec.it_value.tv_nsec = kTickMs * 1000000;
  spec.it_interval.tv_nsec = kTickMs * 1000000;
  ::timerfd_settime(timer_fd_, 0, &spec, nullptr);
  ring_next_ = ctx.hub.ring_position();
  dispatched_head_ = ctx.hub.history().head();
  now_ms_ = mono_ms();
}

EventLoop::~EventLoop() {
  ::close(wake_fd_);
  ::close(timer_fd_);
}

void EventLoop::attach(int fd, std::shared_ptr<void> peer, std::string remote_ip) {
  if (fd < 0 || fd >= (1 << 24)) return;
  if (static_cast<size_t>(fd) >= conns_.size()) conns_.resize(static_cast<size_t>(fd) + 1024);
  const uint64_t id = (next_serial_++ << 24) | static_cast<uint64_t>(fd);
  conns_[fd] = std::make_unique<Conn>(*this, id, fd, std::move(remote_ip), std::move(peer));
  Conn& conn = *conns_[fd];
  conn.last_active_ms_ = now_ms_;
  if (ctx_.tls) {
    conn.tls_ = ctx_.tls->accept(fd);
    if (!conn.tls_) conn.close();
  }
  ++conn_count_;
  ctx_.metrics.http_connections++;
  bool ip_over = false;
  if (ctx_.config.max_connections_per_ip > 0) {
    std::lock_guard lock(ctx_.per_ip_mu);
    ip_over = ++ctx_.per_ip[conn.remote_ip_] > ctx_.config.max_connections_per_ip;
  }
  if (ctx_.open_connections.fetch_add(1) >= static_cast<int64_t>(ctx_.config.max_connections) || ctx_.draining) {
    const char* why = ctx_.draining ? "the server is shutting down; retry on another node"
                                    : "connection limit reached; retry later";
    ctx_.metrics.limit_refusals++;
    conn.write(http_response(503, "application/json", json_error_body("unavailable", why), false, "Retry-After: 1\r\n"));
    conn.close_after_flush();
  } else if (ip_over) {
    ctx_.metrics.limit_refusals++;
    conn.write(http_response(429, "application/json",
                             json_error_body("too_many_connections",
                                             "this address holds " + std::to_string(ctx_.config.max_connections_per_ip) +
                                                 " connections already; close some or retry later"),
                             false, "Retry-After: 5\r\n"));
    conn.close_after_flush();
  }
}

bool EventLoop::owns(int fd) const {
  return fd >= 0 && static_cast<size_t>(fd) < conns_.size() && conns_[fd] != nullptr;
}

Conn* EventLoop::find(uint64_t id) {
  const int fd = static_cast<int>(id & 0xFFFFFF);
  if (!owns(fd)) return nullptr;
  Conn* c = conns_[fd].get();
  return c->id() == id && !c->closing_ ? c : nullptr;
}

void EventLoop::on_io(int fd, bool readable, bool writable) {
  now_ms_ = mono_ms();
  Conn* conn = conns_[fd].get();
  if (conn->tls_) {
    // OpenSSL may wait on the other direction: a write for the peer's handshake
    // bytes, a read for room to send its own.
    if (conn->outbox_bytes_ > 0) mark_dirty(*conn);
    if (readable || conn->tls_->read_blocked_on_write()) read_from(*conn);
    return;
  }
  if (writable && conn->outbox_bytes_ > 0) mark_dirty(*conn);
  if (readable) read_from(*conn);
}

void EventLoop::read_from(Conn& conn) {
  if (conn.tls_ && !conn.tls_->handshake_done() && conn.tls_->peer_sent_plain_http(conn.fd_)) {
    refuse_plain_http(conn);
    return;
  }
  char buf[kReadChunk];
  bool got = false;
  for (;;) {
    const ssize_t n = conn.tls_ ? conn.tls_->read(buf, sizeof buf) : ::recv(conn.fd_, buf, sizeof buf, 0);
    if (n > 0) {
      conn.input_.append(buf, static_cast<size_t>(n));
      got = true;
      // Never buffer more than one largest request (or frame backlog) per peer.
      if (conn.input_.size() > limits_.max_header_bytes + limits_.max_body_bytes + kReadChunk) break;
      continue;
    }
    if (n == 0) {
      mark_closing(conn);
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      mark_closing(conn);
    } else if (conn.tls_ && conn.tls_->read_blocked_on_write()) {
      backend_.watch_writable(conn.fd_);
    }
    break;
  }
  if (!got || conn.closing_) return;
  conn.last_active_ms_ = now_ms_;
  if (conn.handler_) {
    conn.handler_->on_input(conn, conn.input_);
  } else {
    process_requests(conn);
  }
  // Idle connections should hold no input buffer either.
  if (conn.input_.empty() && conn.input_.capacity() > 64) std::string().swap(conn.input_);
}

void EventLoop::refuse_plain_http(Conn& conn) {
  // Answered in plain text so that whoever typed http:// reads why. The request is
  // read first (a close with unread bytes would reset the answer away), never routed.
  conn.tls_.reset();
  char buf[4096];
  for (int i = 0; i < 16 && ::recv(conn.fd_, buf, sizeof buf, MSG_DONTWAIT) > 0; ++i) {
  }
  ctx_.metrics.client_errors++;
  conn.write(http_response(400, "application/json",
                           json_error_body("tls_required", "this port speaks TLS only: use https:// or wss://"), false));
  conn.close_after_flush();
}

void EventLoop::process_requests(Conn& conn) {
  while (!conn.handler_ && !conn.awaiting_ && !conn.closing() && !conn.input_.empty()) {
    HttpRequest req;
    size_t consumed = 0;
    HttpParseError err;
    const auto status = parse_http_request(conn.input_, limits_, req, consumed, err);
    if (status == ParseStatus::NeedMore) return;
    if (status == ParseStatus::Error) {
      ctx_.metrics.client_errors++;
      conn.input_.clear();
      conn.write(http_response(err.status, "application/json", json_error_body("bad_request", err.reason), false));
      conn.close_after_flush();
      return;
    }
    conn.input_.erase(0, consumed);
    req.remote_ip = conn.remote_ip_;
    ctx_.metrics.requests++;
    if (req.method == "OPTIONS") {
      conn.write(http_response(204, "", "", req.keep_alive(),
                               "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
                               "Access-Control-Allow-Headers: Authorization, Content-Type, Last-Event-ID\r\n"
                               "Access-Control-Max-Age: 86400\r\n"));
    } else if (auto it = ctx_.routes.find(req.path); it != ctx_.routes.end()) {
      it->second(*this, conn, req);
    } else {
      ctx_.fallback(*this, conn, req);
    }
    if (ctx_.draining && conn.handler_) {
      // A stream that began after the drain (its request was still arriving) ends at
      // once, the way the drained ones did.
      conn.handler_->on_drain(conn);
    } else if ((!req.keep_alive() || ctx_.draining) && !conn.handler_ && !conn.awaiting_) {
      conn.close_after_flush();
    }
  }
  // A keep-alive connection whose last request finished during the drain (a publish
  // answered by the broker) has nothing more to do here.
  if (ctx_.draining && !conn.handler_ && !conn.awaiting_ && conn.input_.empty()) conn.close_after_flush();
  // Bytes that followed a take-over request (a WebSocket frame in the handshake's packet).
  if (conn.handler_ && !conn.input_.empty() && !conn.closing()) conn.handler_->on_input(conn, conn.input_);
  if (conn.input_.empty() && conn.input_.capacity() > 64) std::string().swap(conn.input_);
}

void EventLoop::resume_requests(Conn& conn) { resume_.push_back(conn.id_); }

void EventLoop::retire(std::unique_ptr<ConnHandler> handler) {
  if (handler) retired_.push_back(std::move(handler));
}

void EventLoop::wake() {
  if (!wake_pending_.exchange(true)) {
    const uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
  }
}

void EventLoop::post(std::function<void(EventLoop&)> task) {
  {
    std::lock_guard lock(posted_mu_);
    posted_.push_back(std::move(task));
  }
  wake_pending_.store(false);  // make sure this wake is not swallowed
  wake();
}

void EventLoop::on_wake() {
  uint64_t count;
  [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
  wake_pending_.store(false);
  now_ms_ = mono_ms();

  std::vector<std::function<void(EventLoop&)>> tasks;
  {
    std::lock_guard lock(posted_mu_);
    tasks.swap(posted_);
  }
  for (auto& t : tasks) t(*this);

  if (!ctx_.hub.read(ring_next_, batch_)) {
    ctx_.metrics.loop_overflows++;
    close_all_streams("fell behind the message rate");
  }
  for (const auto& m : batch_) {
    subscriptions_.dispatch(m);
    if (m->kind == MessageKind::Log) dispatched_head_ = m->cursor;
  }
  batch_.clear();
}

void EventLoop::drain() {
  for (auto& slot : conns_) {
    Conn* c = slot.get();
    if (!c || c->closing()) continue;
    if (c->handler_) {
      c->handler_->on_drain(*c);
    } else if (!c->awaiting_ && c->input_.empty()) {
      c->close_after_flush();
    }
  }
}

void EventLoop::close_all_streams(const char* why) {
  (void)why;
  for (auto& c : conns_)
    if (c && c->handler_) c->close();
}

void EventLoop::on_timer() {
  uint64_t expirations;
  [[maybe_unused]] auto r = ::read(timer_fd_, &expirations, sizeof expirations);
  now_ms_ = mono_ms();
  for (auto& slot : conns_) {
    Conn* c = slot.get();
    if (!c || c->closing_) continue;
    if (c->tls_ && !c->tls_->handshake_done()) {
      // Nothing can be answered before the handshake: a stalled one is just closed.
      if (now_ms_ - c->last_active_ms_ > kHeaderTimeoutMs) c->close();
      continue;
    }
    if (c->handler_) {
      c->handler_->on_tick(*c, now_ms_);
    } else if (!c->awaiting_ && !c->close_after_flush_) {
      const int64_t idle = now_ms_ - c->last_active_ms_;
      if (!c->input_.empty() && idle > kHeaderTimeoutMs) {
        c->input_.clear();
        c->write(http_response(408, "application/json",
                               json_error_body("timeout", "the request did not arrive in time"), false));
        c->close_after_flush();
      } else if (c->input_.empty() && c->outbox_bytes_ == 0 && idle > kKeepAliveIdleMs) {
        c->close();
      }
    }
  }
}

void EventLoop::mark_dirty(Conn& conn) {
  if (conn.dirty_) return;
  conn.dirty_ = true;
  // Request/response traffic (a publish's answer) goes out this round; streams wait
  // their turn in flush_streams().
  if (conn.handler_) {
    bulk_.push_back(conn.id_);
  } else {
    dirty_.push_back(&conn);
  }
}

void EventLoop::mark_closing(Conn& conn) {
  if (!conn.closing_) {
    conn.closing_ = true;
    closing_.push_back(&conn);
  }
}

void EventLoop::end_of_round() {
  // Long-polls answer with what this round brought; parsing resumed after an answer
  // or an async completion may take a connection over again: repeat until quiet.
  while (!round_end_.empty() || !resume_.empty()) {
    auto ends = std::move(round_end_);
    round_end_.clear();
    for (uint64_t id : ends)
      if (Conn* c = find(id); c && c->handler_) c->handler_->on_round_end(*c);
    auto ids = std::move(resume_);
    resume_.clear();
    for (uint64_t id : ids)
      if (Conn* c = find(id)) process_requests(*c);
  }
  // By index: a handler told its outbox is empty may write again, which queues the
  // connection once more (here, or with the streams).
  for (size_t i = 0; i < dirty_.size(); ++i) flush_conn(*dirty_[i]);
  dirty_.clear();
  flush_streams();
  for (size_t i = 0; i < closing_.size(); ++i) finish_close(*closing_[i]);
  closing_.clear();
  retired_.clear();
}

void EventLoop::flush_streams() {
  // A slice of the streams per round, in the order they were queued. While the rest
  // wait, the loop reads new publishes and their messages join the queued outboxes,
  // so under load each sendmsg carries several messages instead of one; when the
  // loop is idle the whole queue goes out at once, as fast as before.
  const auto start = std::chrono::steady_clock::now();
  size_t done = 0;
  while (bulk_head_ < bulk_.size()) {
    if (++done % 64 == 0 && std::chrono::steady_clock::now() - start > kStreamSlice) break;
    if (Conn* c = find(bulk_[bulk_head_++])) flush_conn(*c);
  }
  if (bulk_head_ == bulk_.size()) {
    bulk_.clear();
    bulk_head_ = 0;
  } else {
    if (bulk_head_ > 4096 && bulk_head_ * 2 > bulk_.size()) {
      bulk_.erase(bulk_.begin(), bulk_.begin() + static_cast<ptrdiff_t>(bulk_head_));
      bulk_head_ = 0;
    }
    wake();  // come back for the rest after whatever else is ready
  }
}

void EventLoop::flush_conn(Conn& conn) {
  Conn* c = &conn;
  c->dirty_ = false;
  if (c->closing_) return;
  switch (c->flush()) {
    case Conn::FlushResult::Done:
      if (c->notify_empty_ && c->handler_ && !c->close_after_flush_ && !c->half_close_after_flush_) {
        c->notify_empty_ = false;
        c->handler_->on_outbox_empty(*c);
        if (c->dirty_) return;
      }
      if (c->close_after_flush_) {
        mark_closing(*c);
      } else if (c->half_close_after_flush_ && !c->half_closed_) {
        c->half_closed_ = true;
        if (c->tls_) c->tls_->shutdown();  // close_notify, then the FIN
        ::shutdown(c->fd_, SHUT_WR);
      }
      break;
    case Conn::FlushResult::Blocked:
      // A TLS write waiting for the peer's handshake bytes resumes on readability;
      // asking for writability would wake this loop at once, again and again.
      if (!c->tls_ || !c->tls_->write_blocked_on_read()) backend_.watch_writable(c->fd_);
      break;
    case Conn::FlushResult::Failed:
      mark_closing(*c);
      break;
  }
}

void EventLoop::finish_close(Conn& conn) {
  const int fd = conn.fd_;
  if (conn.handler_) {
    conn.handler_->on_closed(conn);
    conn.handler_.reset();
  }
  if (conn.counted_) ctx_.metrics.connections[static_cast<int>(conn.kind_)]--;
  ctx_.metrics.http_connections--;
  ctx_.open_connections--;
  if (ctx_.config.max_connections_per_ip > 0) {
    std::lock_guard lock(ctx_.per_ip_mu);
    auto it = ctx_.per_ip.find(conn.remote_ip_);
    if (it != ctx_.per_ip.end() && --it->second == 0) ctx_.per_ip.erase(it);
  }
  --conn_count_;
  if (conn.tls_) conn.tls_->shutdown();
  conns_[fd].reset();
  backend_.close_peer(fd);
}

}  // namespace herald
