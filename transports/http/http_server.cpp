#include "transports/http/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "src/clock.h"

namespace herald {

namespace {

constexpr int kEventsPerWait = 1024;
constexpr int kAcceptsPerEvent = 64;      // then the loop serves its connections again
constexpr int64_t kAcceptPauseMs = 100;   // out of descriptors: stop accepting this long

// One worker thread: its epoll set, the EventLoop that owns every connection it
// accepted, and the descriptor calls the loop asks for.
class LoopThread final : public LoopBackend {
 public:
  LoopThread(size_t index, ServerContext& ctx, int listen_fd) : listen_fd_(listen_fd) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    loop_ = std::make_unique<EventLoop>(index, ctx, *this);
    add(loop_->wake_fd(), EPOLLIN);
    add(loop_->timer_fd(), EPOLLIN);
    watch_listener();
  }

  ~LoopThread() override {
    join();
    loop_.reset();  // its connections close through close_peer, which needs us alive
    ::close(epoll_fd_);
  }

  EventLoop& loop() { return *loop_; }
  void start() { thread_ = std::thread([this] { run(); }); }

  void join() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    loop_->wake();
    thread_.join();
  }

  // LoopBackend
  void close_peer(int fd) override { ::close(fd); }  // also leaves the epoll set
  void watch_writable(int fd) override {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  }

 private:
  void add(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
      throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
  }

  // Every loop waits on the one listening socket; EPOLLEXCLUSIVE wakes one idle loop
  // per connection instead of all of them, so a busy loop leaves new clients to others.
  void watch_listener() {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = listen_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    accept_paused_until_ = 0;
  }

  void run() {
    epoll_event events[kEventsPerWait];
    while (!stopping_) {
      const int n = ::epoll_wait(epoll_fd_, events, kEventsPerWait, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        const uint32_t e = events[i].events;
        if (fd == loop_->wake_fd()) {
          loop_->on_wake();
        } else if (fd == loop_->timer_fd()) {
          loop_->on_timer();
          if (accept_paused_until_ != 0 && mono_ms() >= accept_paused_until_) watch_listener();
        } else if (fd == listen_fd_) {
          accept_some();
        } else if (loop_->owns(fd)) {
          loop_->on_io(fd, (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0, (e & EPOLLOUT) != 0);
        }
      }
      loop_->end_of_round();
    }
  }

  void accept_some() {
    for (int i = 0; i < kAcceptsPerEvent; ++i) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED || errno == EPERM || errno == EPROTO) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // The pending connection stays queued and would wake us again at once.
          ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
          accept_paused_until_ = mono_ms() + kAcceptPauseMs;
        }
        return;  // EAGAIN: another loop took it, or the queue is empty
      }
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
      ev.data.fd = fd;
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        continue;
      }
      loop_->attach(fd, address_text(addr));
    }
  }

  static std::string address_text(const sockaddr_storage& addr) {
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof text);
    } else if (addr.ss_family == AF_INET6) {
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, text, sizeof text);
    }
    return text;
  }

  int listen_fd_;
  int epoll_fd_ = -1;
  std::unique_ptr<EventLoop> loop_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int64_t accept_paused_until_ = 0;  // 0: the listener is watched
};

int open_listener(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const std::string where = host + ":" + service;
  // An IPv6 address may come bracketed, as in a URL: [::1]
  const std::string name = host.size() > 2 && host.front() == '[' && host.back() == ']' ? host.substr(1, host.size() - 2) : host;
  if (const int rc = ::getaddrinfo(name.empty() ? nullptr : name.c_str(), service.c_str(), &hints, &found); rc != 0)
    throw std::runtime_error("cannot listen on " + where + ": " + ::gai_strerror(rc));
  std::string why = "no address";
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // The accept queue must absorb a reconnect storm (every client of a restarted
    // node at once); a small backlog drops SYNs well before that.
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) throw std::runtime_error("cannot listen on " + where + ": " + why);
  return fd;
}

}  // namespace

struct HttpServer::Impl {
  explicit Impl(ServerContext& c) : ctx(c) {}
  ServerContext& ctx;
  int listen_fd = -1;
  mutable std::mutex mu;
  std::vector<std::unique_ptr<LoopThread>> threads;
};

HttpServer::HttpServer(ServerContext& ctx) : impl_(std::make_unique<Impl>(ctx)) {}

HttpServer::~HttpServer() {
  stop();
  // The hub may still name the loops until here; each closes the connections it holds.
  impl_->threads.clear();
}

void HttpServer::start(const std::string& host, uint16_t port, size_t threads) {
  impl_->listen_fd = open_listener(host, port);
  std::lock_guard lock(impl_->mu);
  for (size_t i = 0; i < std::max<size_t>(1, threads); ++i) {
    impl_->threads.push_back(std::make_unique<LoopThread>(i, impl_->ctx, impl_->listen_fd));
    impl_->ctx.hub.add_loop(&impl_->threads.back()->loop());
  }
  for (auto& t : impl_->threads) t->start();
}

uint16_t HttpServer::port() const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (impl_->listen_fd < 0 || ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
}

void HttpServer::stop() {
  {
    std::lock_guard lock(impl_->mu);
    for (auto& t : impl_->threads) t->join();
  }
  if (impl_->listen_fd >= 0) {
    ::close(impl_->listen_fd);
    impl_->listen_fd = -1;
  }
}

std::vector<EventLoop*> HttpServer::loops() const {
  std::lock_guard lock(impl_->mu);
  std::vector<EventLoop*> out;
  for (const auto& t : impl_->threads) out.push_back(&t->loop());
  return out;
}

}  // namespace herald
