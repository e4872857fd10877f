#pragma once
// A loopback TCP proxy in front of a real herald that mistreats WebSocket upgrades,
// as some corporate proxies do, so tests can watch a client fall back from WebSocket
// and later fail back to it. Plain HTTP (SSE, long-poll, publish) always passes.
// Test-only: a thread per connection, no limits.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace herald::test {

class UpgradeProxy {
 public:
  enum class Mode {
    Refuse,  // answer an upgrade with 403
    Silent,  // accept the connection, never answer (the client's probe must time out)
    Pass,    // forward it like everything else
  };

  UpgradeProxy(int target_port, Mode mode) : target_port_(target_port), mode_(mode) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("proxy: cannot listen");
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~UpgradeProxy() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    accept_thread_.join();
    ::close(listen_fd_);
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void set_mode(Mode mode) { mode_ = mode; }

 private:
  void accept_loop() {
    while (!stop_) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      if (stop_) {
        ::close(fd);
        break;
      }
      open_fds_.push_back(fd);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void forget(int fd) {
    std::lock_guard lock(mu_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    ::close(fd);
  }

  void serve(int client) {
    std::string head;
    char buf[16384];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
      const ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) return forget(client);
      head.append(buf, static_cast<size_t>(n));
    }
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower.find("upgrade: websocket") != std::string::npos) {
      const Mode mode = mode_;
      if (mode == Mode::Refuse) {
        const std::string no = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        [[maybe_unused]] auto n = ::send(client, no.data(), no.size(), MSG_NOSIGNAL);
        return forget(client);
      }
      if (mode == Mode::Silent) {
        while (!stop_ && ::recv(client, buf, sizeof buf, 0) > 0) {
        }
        return forget(client);
      }
    }
    const int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(target_port_));
    if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::send(server, head.data(), head.size(), MSG_NOSIGNAL) < 0) {
      ::close(server);
      return forget(client);
    }
    {
      std::lock_guard lock(mu_);
      open_fds_.push_back(server);
    }
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    while (!stop_) {
      if (::poll(fds, 2, 200) < 0) break;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (!fds[i].revents) continue;
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        closed = n <= 0 || ::send(fds[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) < 0;
      }
      if (closed) break;
    }
    forget(server);
    forget(client);
  }

  int target_port_;
  std::atomic<Mode> mode_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
};

}  // namespace herald::test
