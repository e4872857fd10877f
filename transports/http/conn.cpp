#include "transports/http/conn.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

#include "src/conflation.h"
#include "transports/http/event_loop.h"

namespace herald {

Conn::Conn(EventLoop& loop, uint64_t id, int fd, std::string remote_ip, std::shared_ptr<void> peer)
    : loop_(loop), id_(id), fd_(fd), remote_ip_(std::move(remote_ip)), peer_(std::move(peer)) {}

Conn::~Conn() = default;

bool Conn::write(std::string bytes) {
  if (bytes.empty()) return !closing();
  Chunk c;
  c.size = bytes.size();
  c.own = std::move(bytes);
  return enqueue(std::move(c));
}

bool Conn::write_shared(std::shared_ptr<const void> owner, std::string_view bytes) {
  if (bytes.empty()) return !closing();
  Chunk c;
  c.owner = std::move(owner);
  c.shared = bytes.data();
  c.size = bytes.size();
  return enqueue(std::move(c));
}

bool Conn::enqueue(Chunk chunk) {
  if (closing()) return false;
  const size_t limit = loop_.ctx().config.max_outbox;
  // One large answer on an empty outbox is fine; a backlog past the limit is not.
  if (outbox_bytes_ > 0 && outbox_bytes_ + chunk.size > limit) {
    loop_.ctx().metrics.slow_consumer_drops++;
    close();
    return false;
  }
  outbox_bytes_ += chunk.size;
  outbox_.push_back(std::move(chunk));
  loop_.mark_dirty(*this);
  return true;
}

bool Conn::backlogged() const {
  const size_t half = loop_.ctx().config.max_outbox / 2;
  return outbox_bytes_ >= half || (blocked_ && outbox_bytes_ >= std::min(kConflateAboveBytes, half));
}

Conn::FlushResult Conn::flush() {
  constexpr size_t kMaxIov = 64;
  while (outbox_head_ < outbox_.size()) {
    iovec iov[kMaxIov];
    size_t n = 0;
    for (size_t i = outbox_head_; i < outbox_.size() && n < kMaxIov; ++i, ++n) {
      iov[n].iov_base = const_cast<char*>(outbox_[i].data());
      iov[n].iov_len = outbox_[i].left();
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    const ssize_t sent = tls_ ? tls_->write(iov, n) : ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        blocked_ = true;
        return FlushResult::Blocked;
      }
      return FlushResult::Failed;
    }
    size_t left = static_cast<size_t>(sent);
    outbox_bytes_ -= left;
    while (left > 0) {
      auto& c = outbox_[outbox_head_];
      if (left >= c.left()) {
        left -= c.left();
        c = Chunk{};
        ++outbox_head_;
      } else {
        c.sent += left;
        left = 0;
      }
    }
  }
  // Idle connections should hold no buffer memory: even a small kept capacity (two
  // or three chunks after a handshake) was about 150 bytes on every idle connection.
  // Writes are batched per round, so this is one allocation per flush, not per message.
  std::vector<Chunk>().swap(outbox_);
  outbox_head_ = 0;
  blocked_ = false;
  return FlushResult::Done;
}

void ConnHandler::on_drain(Conn& conn) { conn.close_after_flush(); }

void Conn::close() { loop_.mark_closing(*this); }

void Conn::close_after_flush() {
  if (closing()) return;
  close_after_flush_ = true;
  loop_.mark_dirty(*this);
}

void Conn::half_close_after_flush() {
  half_close_after_flush_ = true;
  loop_.mark_dirty(*this);
}

void Conn::take_over(std::unique_ptr<ConnHandler> handler, TransportKind kind) {
  handler_ = std::move(handler);
  kind_ = kind;
  if (!counted_) {
    counted_ = true;
    auto& m = loop_.ctx().metrics;
    m.connections[static_cast<int>(kind)]++;
    m.connections_total[static_cast<int>(kind)]++;
  }
}

void Conn::release() {
  loop_.retire(std::move(handler_));
  if (counted_) {
    loop_.ctx().metrics.connections[static_cast<int>(kind_)]--;
    counted_ = false;
  }
  loop_.resume_requests(*this);
}

void Conn::finish_async(std::string response, bool keep_alive) {
  awaiting_ = false;
  write(std::move(response));
  if (!keep_alive) {
    close_after_flush();
    return;
  }
  loop_.resume_requests(*this);
}

}  // namespace herald
