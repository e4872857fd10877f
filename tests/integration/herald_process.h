#pragma once
// Starts the real `herald` binary on a free loopback port for a test and stops it
// (SIGTERM, then SIGKILL) when the object goes away.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
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
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    out_fd_ = out[0];
    const auto at = line.find("http://127.0.0.1:");
    if (at == std::string::npos) {
      stop();
      throw std::runtime_error("herald did not start: '" + line + "'");
    }
    port_ = std::stoi(line.substr(at + 17));
  }
  ~HeraldProcess() { stop(); }
  HeraldProcess(const HeraldProcess&) = delete;
  HeraldProcess& operator=(const HeraldProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Returns the exit status (or -1 when it had to be killed).
  int stop() {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        pid_ = 0;
        ::close(out_fd_);
        return exit_status_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
    ::close(out_fd_);
    return exit_status_ = -1;
  }

 private:
  pid_t pid_ = 0;
  int out_fd_ = -1;
  int port_ = 0;
  int exit_status_ = -1;
};

}  // namespace herald::test
