#pragma once
// Starts the real `herald` binary on a free loopback port for a test and stops it
// (SIGTERM, then SIGKILL) when the object goes away.
//
// herald logs to stdout, the same stream that carries its "listening on" line, and
// with --broker amqp://... it may log (a broker not reachable yet) before that line,
// which it prints only once the broker has started. So the constructor skips lines
// until the URL, and a thread then keeps reading the pipe: herald would block on a
// full pipe otherwise. The last lines are kept for failure messages (output()).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#ifndef HERALD_BINARY
#error "HERALD_BINARY must name the herald executable"
#endif

namespace herald::test {

class HeraldProcess {
 public:
  explicit HeraldProcess(std::vector<std::string> args = {}) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      ::dup2(out[1], 1);
      ::close(out[0]);
      std::vector<std::string> argv_s{HERALD_BINARY, "--listen", "127.0.0.1:0", "--log-level", "warn"};
      argv_s.insert(argv_s.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    ::close(out[1]);
    out_fd_ = out[0];
    std::string line;
    size_t at = std::string::npos;
    while (read_line(line)) {
      at = line.find("http://127.0.0.1:");
      if (at != std::string::npos) break;
      keep(line);
    }
    if (at == std::string::npos) {
      stop();
      throw std::runtime_error("herald did not start: '" + output() + "'");
    }
    port_ = std::stoi(line.substr(at + 17));
    reader_ = std::thread([this] {
      std::string rest;
      while (read_line(rest)) keep(rest);
    });
  }
  ~HeraldProcess() { stop(); }
  HeraldProcess(const HeraldProcess&) = delete;
  HeraldProcess& operator=(const HeraldProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // What herald wrote to stdout, apart from its URL line (the last 64 KiB).
  std::string output() const {
    std::lock_guard lock(output_mutex_);
    return output_;
  }

  // Returns the exit status (or -1 when it had to be killed).
  int stop() {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        reap();
        return exit_status_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill();
    return exit_status_ = -1;
  }
  // SIGKILL, as a crash would: no shutdown, connections cut.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    exit_status_ = -1;
    reap();
  }

 private:
  // The process is gone, so the pipe reaches its end and the reader returns.
  void reap() {
    pid_ = 0;
    if (reader_.joinable()) reader_.join();
    ::close(out_fd_);
    out_fd_ = -1;
  }
  bool read_line(std::string& line) {
    line.clear();
    char c;
    while (true) {
      const ssize_t n = ::read(out_fd_, &c, 1);
      if (n == 1) {
        if (c == '\n') return true;
        line.push_back(c);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return !line.empty();
      }
    }
  }
  void keep(const std::string& line) {
    std::lock_guard lock(output_mutex_);
    output_ += line;
    output_ += '\n';
    if (output_.size() > 65536) output_.erase(0, output_.size() - 65536);
  }

  pid_t pid_ = 0;
  int out_fd_ = -1;
  int port_ = 0;
  int exit_status_ = -1;
  std::thread reader_;
  mutable std::mutex output_mutex_;
  std::string output_;
};

}  // namespace herald::test
