#pragma once
// The coordinator's side of herald-bench: the subscriber worker processes (a crowd
// it connects, measures and collects), where the server is, and what /proc says
// about it. Used by the single-workload run (main.cpp) and the phased run
// (phases.cpp) alike.
#include <netinet/in.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/herald_bench/report.h"

namespace herald::bench {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Target {
  std::string origin;  // http://host:port
  std::string host;    // host:port, for the Host header
  sockaddr_in addr{};
};
// Throws std::runtime_error when the host does not resolve to IPv4.
Target resolve(const std::string& url);
// False, with the reason in `why`, unless GET /healthz answers 200.
bool healthy(const Target& target, std::string& why);

// The server's resident memory (VmRSS) in KiB, or -1.
long server_rss_kib(int pid);
// The server's CPU time so far over all its threads, from /proc/PID/stat (clock
// ticks, usually 10 ms); -1 when unreadable. On loopback `system` includes the
// kernel's TCP work for both ends of what the server sends.
struct CpuTimes {
  double user = -1;
  double system = -1;
};
CpuTimes server_cpu(int pid);

// A progress bar on stderr: redrawn in place on a terminal, a line every few
// seconds otherwise (a log or ctest).
class Progress {
 public:
  explicit Progress(bool enabled);
  void show(const std::string& label, double fraction, const std::string& detail);
  void line(const std::string& text);

 private:
  bool enabled_;
  bool tty_;
  Clock::time_point next_{};
};

struct ConnectPlan {
  std::string transport;  // websocket, sse, longpoll
  std::string dialect = "herald";
  uint64_t subscribers = 0;
  uint32_t channels = 1;
  std::string prefix;  // subscriber i listens to <prefix><i % channels>
  unsigned window = 100;
  double timeout_s = 60;
};

// The worker processes (worker.h has their protocol). Not thread-safe: one
// coordinator thread drives it.
class Crowd {
 public:
  // Forks `procs` workers; on loopback each binds its own 127.0.0.x source address.
  Crowd(int procs, bool loopback);
  ~Crowd();
  Crowd(const Crowd&) = delete;
  Crowd& operator=(const Crowd&) = delete;

  // Connects and subscribes the crowd; fills r.connected, r.failed, r.connect_seconds.
  void connect(const Target& target, const ConnectPlan& plan, TransportResult& r, Progress& progress);
  // From now on workers count bytes and latency.
  void start_measuring();
  // Reads what the workers said within `timeout_ms`.
  void pump(int timeout_ms);
  [[nodiscard]] uint64_t delivered() const;
  // Merges every worker's counts since the last collect into r; messages
  // 0..messages-1 are owed by now. `close` ends the crowd's connections, otherwise
  // they stay for the next phase.
  void collect(uint64_t messages, bool close, TransportResult& r);
  [[nodiscard]] bool all_gone() const;

 private:
  struct Worker {
    pid_t pid = -1;
    int fd = -1;
    std::string in;
    uint64_t live = 0, failed = 0, delivered = 0;
    bool has_result = false;
    std::string result;
    std::string error;
    bool gone = false;
  };
  void tell(const std::string& line);
  uint64_t total(uint64_t Worker::*field) const;

  std::vector<Worker> workers_;
};

}  // namespace herald::bench
