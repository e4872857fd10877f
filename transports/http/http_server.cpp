#include "transports/http/http_server.h"

#include <pistache/listener.h>
#include <pistache/peer.h>
#include <pistache/tcp.h>
#include <pistache/transport.h>

#include <sys/socket.h>

#include <mutex>
#include <stdexcept>

namespace herald {
namespace P = Pistache;

namespace {

struct Shared {
  ServerContext* ctx = nullptr;
  std::mutex mu;
  std::vector<EventLoop*> loops;
};

// Hands each accepted peer to the loop of the worker that owns it.
class AcceptHandler final : public P::Tcp::Handler {
 public:
  PROTOTYPE_OF(P::Tcp::Handler, AcceptHandler)
  void onInput(const char*, size_t, const std::shared_ptr<P::Tcp::Peer>&) override {}
  void onConnection(const std::shared_ptr<P::Tcp::Peer>& peer) override;
};

// A Pistache worker transport whose peers are read and written by a Herald EventLoop.
class WorkerTransport final : public P::Tcp::Transport, public LoopBackend {
 public:
  WorkerTransport(const std::shared_ptr<AcceptHandler>& handler, Shared* shared)
      : P::Tcp::Transport(handler), shared_(shared) {}

  std::shared_ptr<P::Aio::Handler> clone() const override {
    return std::make_shared<WorkerTransport>(std::make_shared<AcceptHandler>(), shared_);
  }

  void registerPoller(P::Polling::Epoll& poller) override {
    P::Tcp::Transport::registerPoller(poller);
    std::lock_guard lock(shared_->mu);
    loop_ = std::make_unique<EventLoop>(shared_->loops.size(), *shared_->ctx, *this);
    shared_->loops.push_back(loop_.get());
    shared_->ctx->hub.add_loop(loop_.get());
    using P::Polling::NotifyOn;
    poller.addFd(loop_->wake_fd(), P::Flags<NotifyOn>(NotifyOn::Read), P::Polling::Tag(loop_->wake_fd()));
    poller.addFd(loop_->timer_fd(), P::Flags<NotifyOn>(NotifyOn::Read), P::Polling::Tag(loop_->timer_fd()));
  }

  void onReady(const P::Aio::FdSet& fds) override {
    using P::Polling::NotifyOn;
    std::vector<P::Polling::Event> rest;
    for (const auto& entry : fds) {
      const auto fd = static_cast<int>(entry.getTag().value());
      if (fd == loop_->wake_fd() && entry.isReadable()) {
        loop_->on_wake();
      } else if (fd == loop_->timer_fd() && entry.isReadable()) {
        loop_->on_timer();
      } else if (loop_->owns(fd)) {
        loop_->on_io(fd, entry.isReadable() || entry.isHangup(), entry.isWritable());
      } else {
        P::Polling::Event ev(entry.getTag());
        if (entry.isReadable()) ev.flags.setFlag(NotifyOn::Read);
        if (entry.isWritable()) ev.flags.setFlag(NotifyOn::Write);
        if (entry.isHangup()) ev.flags.setFlag(NotifyOn::Hangup);
        rest.push_back(std::move(ev));
      }
    }
    // Pistache's own queues (new peers, its timers); never a Herald connection.
    if (!rest.empty()) P::Tcp::Transport::onReady(P::Aio::FdSet(std::move(rest)));
    loop_->end_of_round();
  }

  void attach(const std::shared_ptr<P::Tcp::Peer>& peer) { loop_->attach(peer->fd(), peer, peer->address().host()); }

  // LoopBackend
  void close_peer(int fd) override {
    auto it = peers.find(fd);
    if (it == peers.end()) return;
    auto peer = it->second;  // removePeer erases the map entry that holds it
    removePeer(peer);
  }
  void watch_writable(int fd) override {
    using P::Polling::NotifyOn;
    reactor()->modifyFd(key(), fd, NotifyOn::Read | NotifyOn::Write | NotifyOn::Shutdown, P::Polling::Mode::Edge);
  }

 private:
  Shared* shared_;
  std::unique_ptr<EventLoop> loop_;
};

void AcceptHandler::onConnection(const std::shared_ptr<P::Tcp::Peer>& peer) {
  static_cast<WorkerTransport*>(transport())->attach(peer);
}

}  // namespace

struct HttpServer::Impl {
  Shared shared;
  std::unique_ptr<P::Tcp::Listener> listener;
};

HttpServer::HttpServer(ServerContext& ctx) : impl_(std::make_unique<Impl>()) { impl_->shared.ctx = &ctx; }

HttpServer::~HttpServer() { stop(); }

void HttpServer::start(const std::string& host, uint16_t port, size_t threads) {
  auto& l = impl_->listener;
  l = std::make_unique<P::Tcp::Listener>(P::Address(host, P::Port(port)));
  Shared* shared = &impl_->shared;
  l->setTransportFactory([shared] {
    return std::make_shared<WorkerTransport>(std::make_shared<AcceptHandler>(), shared);
  });
  // The accept queue must absorb a reconnect storm (every client of a restarted node at
  // once); Pistache's default backlog of 128 drops SYNs well before that.
  l->init(threads, P::Flags<P::Tcp::Options>(P::Tcp::Options::ReuseAddr), "herald-loop", SOMAXCONN);
  l->setHandler(std::make_shared<AcceptHandler>());
  try {
    l->bind();
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + e.what());
  }
  l->runThreaded();
}

uint16_t HttpServer::port() const {
  return impl_->listener ? static_cast<uint16_t>(impl_->listener->getPort()) : 0;
}

void HttpServer::stop() {
  if (impl_->listener) {
    impl_->listener->shutdown();
    impl_->listener.reset();
  }
}

std::vector<EventLoop*> HttpServer::loops() const {
  std::lock_guard lock(impl_->shared.mu);
  return impl_->shared.loops;
}

}  // namespace herald
