// herald-bench: compares Herald's transports on one workload.
//
// The coordinator (this process) forks --procs workers, each an epoll loop holding
// its share of the subscribers (worker.cpp). For each transport in turn it has the
// workers connect and subscribe, reads the server's memory, publishes the messages
// at the chosen rate from a thread (publisher.cpp), waits for every delivery, then
// collects counts, bytes and latency histograms. Transports run one after another
// so they do not compete for the same cores.
#include <arpa/inet.h>
#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench/herald_bench/options.h"
#include "bench/herald_bench/publisher.h"
#include "bench/herald_bench/report.h"
#include "bench/herald_bench/worker.h"

namespace herald::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct WorkerHandle {
  pid_t pid = -1;
  int fd = -1;
  std::string in;
  uint64_t live = 0, failed = 0, delivered = 0;
  bool has_result = false;
  std::string result;
  std::string error;
  bool gone = false;
};

// Reads whatever the workers have said within `timeout_ms`.
void pump(std::vector<WorkerHandle>& workers, int timeout_ms) {
  std::vector<pollfd> fds;
  for (const auto& w : workers) fds.push_back(pollfd{w.gone ? -1 : w.fd, POLLIN, 0});
  if (::poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
  char buf[1 << 16];
  for (size_t i = 0; i < workers.size(); ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    auto& w = workers[i];
    const ssize_t n = ::read(w.fd, buf, sizeof buf);
    if (n <= 0) {
      w.gone = true;
      if (w.error.empty()) w.error = "a worker process exited";
      continue;
    }
    w.in.append(buf, static_cast<size_t>(n));
    size_t eol;
    while ((eol = w.in.find('\n')) != std::string::npos) {
      const std::string line = w.in.substr(0, eol);
      w.in.erase(0, eol + 1);
      if (line.starts_with("P ")) {
        std::istringstream(line.substr(2)) >> w.live >> w.failed >> w.delivered;
      } else if (line.starts_with("R ")) {
        w.result = line.substr(2);
        w.has_result = true;
      } else if (line.starts_with("E ") && w.error.empty()) {
        w.error = line.substr(2);
      }
    }
  }
}

void tell(std::vector<WorkerHandle>& workers, const std::string& line) {
  for (auto& w : workers) {
    if (w.gone) continue;
    const std::string out = line + "\n";
    if (::write(w.fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) w.gone = true;
  }
}

// A progress bar on stderr: redrawn in place on a terminal, a line every few
// seconds otherwise (a log or ctest).
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) == 1) {}

  void show(const std::string& label, double fraction, const std::string& detail) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (now < next_) return;
    next_ = now + (tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(2000));
    fraction = std::clamp(fraction, 0.0, 1.0);
    const int width = 28, full = static_cast<int>(fraction * width);
    std::string bar;
    for (int i = 0; i < width; ++i) bar += i < full ? "\u2588" : "\u2591";
    char pct[16];
    std::snprintf(pct, sizeof pct, "%3.0f%%", fraction * 100);
    std::cerr << (tty_ ? "\r\033[K" : "") << label << "  " << bar << ' ' << pct << "  " << detail
              << (tty_ ? "" : "\n") << std::flush;
  }

  void line(const std::string& text) {
    if (!enabled_) return;
    std::cerr << (tty_ ? "\r\033[K" : "") << text << '\n' << std::flush;
    next_ = {};
  }

 private:
  bool enabled_;
  bool tty_;
  Clock::time_point next_{};
};

long server_rss_kib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  return -1;
}

// Each message is owed once to every subscriber of its channel.
uint64_t expected_deliveries(const Options& o) {
  uint64_t total = 0;
  for (uint64_t c = 0; c < o.channels; ++c) {
    const uint64_t subs = o.subscribers / o.channels + (c < o.subscribers % o.channels ? 1 : 0);
    const uint64_t msgs = o.messages / o.channels + (c < o.messages % o.channels ? 1 : 0);
    total += subs * msgs;
  }
  return total;
}

struct Target {
  std::string origin;  // http://host:port
  std::string host;    // host:port, for the Host header
  sockaddr_in addr{};
};

Target resolve(const std::string& url) {
  Target t;
  std::string rest = url.substr(7);
  rest = rest.substr(0, rest.find('/'));
  t.origin = "http://" + rest;
  t.host = rest;
  std::string name = rest, port = "80";
  if (const auto colon = rest.rfind(':'); colon != std::string::npos) {
    name = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(name.c_str(), port.c_str(), &hints, &found) != 0 || !found)
    throw std::runtime_error("cannot resolve " + rest + " to an IPv4 address");
  std::memcpy(&t.addr, found->ai_addr, sizeof t.addr);
  freeaddrinfo(found);
  return t;
}

bool healthy(const Target& target, std::string& why) {
  httplib::Client http(target.origin);
  http.set_connection_timeout(3, 0);
  auto res = http.Get("/healthz");
  if (res && res->status == 200) return true;
  why = target.origin + "/healthz did not answer 200 (" +
        (res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error())) + ")";
  return false;
}

// A herald of our own on a free loopback port; its banner names the port.
struct Spawned {
  pid_t pid = -1;
  Target target;
};

Spawned spawn_server(const Options& o) {
  char path[] = "/tmp/herald-bench-server-XXXXXX";
  const int out = mkstemp(path);
  if (out < 0) throw std::runtime_error(std::string("mkstemp: ") + std::strerror(errno));
  std::vector<std::string> args = {o.server_binary, "--listen", "127.0.0.1:0", "--log-level", "warn"};
  args.insert(args.end(), o.server_args.begin(), o.server_args.end());
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out, STDOUT_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::fprintf(stderr, "herald-bench: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  ::close(out);
  Spawned s;
  s.pid = pid;
  const auto start = Clock::now();
  while (seconds_since(start) < 10) {
    std::ifstream banner(path);
    std::stringstream text;
    text << banner.rdbuf();
    const std::string t = text.str();
    const auto at = t.find("listening on http://");
    const auto end = at == std::string::npos ? at : t.find('/', at + 20);
    if (end != std::string::npos) {
      ::unlink(path);
      s.target = resolve(t.substr(at + 13, end - at - 13));
      return s;
    }
    if (waitpid(pid, nullptr, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::unlink(path);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  throw std::runtime_error(o.server_binary + " did not print its 'listening on' line");
}

void stop_server(pid_t pid) {
  kill(pid, SIGTERM);
  const auto start = Clock::now();
  while (waitpid(pid, nullptr, WNOHANG) == 0) {
    if (seconds_since(start) > 5) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TransportResult run_transport(const Options& o, const Target& target, int server_pid, const std::string& transport,
                              int round, std::vector<WorkerHandle>& workers, Progress& progress) {
  TransportResult r;
  r.transport = transport;
  r.subscribers = o.subscribers;
  r.expected = expected_deliveries(o);
  const std::string prefix = "bench:" + std::to_string(getpid()) + "-" + std::to_string(round) + ".";
  const size_t procs = workers.size();
  auto total = [&](uint64_t WorkerHandle::*field) {
    uint64_t sum = 0;
    for (const auto& w : workers) sum += w.*field;
    return sum;
  };
  for (auto& w : workers) w.live = w.failed = w.delivered = 0, w.has_result = false, w.error.clear();

  // Connect and subscribe everyone.
  r.rss_before_kib = server_rss_kib(server_pid);
  const auto connect_start = Clock::now();
  const uint64_t window = std::max<uint64_t>(1, (o.window + procs - 1) / procs);
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &target.addr.sin_addr, ip, sizeof ip);
  for (size_t i = 0; i < procs; ++i) {
    const uint64_t first = o.subscribers * i / procs, last = o.subscribers * (i + 1) / procs;
    const std::string line = "C " + transport + " " + std::to_string(first) + " " + std::to_string(last - first) +
                             " " + std::to_string(o.channels) + " " + prefix + " " + std::to_string(window) + " " +
                             ip + " " + std::to_string(ntohs(target.addr.sin_port)) + "\n";
    if (::write(workers[i].fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) workers[i].gone = true;
  }
  for (;;) {
    pump(workers, 50);
    const uint64_t done = total(&WorkerHandle::live) + total(&WorkerHandle::failed);
    const double elapsed = seconds_since(connect_start);
    progress.show(transport + " connect", double(done) / double(o.subscribers),
                  grouped(total(&WorkerHandle::live)) + "/" + grouped(o.subscribers) + " subscribed, " +
                      grouped(static_cast<uint64_t>(done / std::max(elapsed, 1e-3))) + "/s");
    if (done >= o.subscribers || elapsed > o.connect_timeout) break;
    bool all_gone = true;
    for (const auto& w : workers) all_gone = all_gone && w.gone;
    if (all_gone) break;
  }
  r.connect_seconds = seconds_since(connect_start);
  r.connected = total(&WorkerHandle::live);
  // Give the server a moment to finish what accepting left behind before reading its memory.
  const auto settle = Clock::now();
  while (seconds_since(settle) < 0.3) pump(workers, 50);
  r.rss_after_kib = server_rss_kib(server_pid);

  // Publish and wait for every delivery.
  tell(workers, "M");
  Publisher publisher(PublishPlan{target.origin, prefix, o.channels, o.messages, o.rate, o.size});
  publisher.start();
  uint64_t last_seen = 0;
  bool published = false;
  auto last_change = Clock::now();
  for (;;) {
    pump(workers, 50);
    const uint64_t delivered = total(&WorkerHandle::delivered);
    if (delivered != last_seen) last_seen = delivered, last_change = Clock::now();
    progress.show(transport + " publish", double(delivered) / double(std::max<uint64_t>(1, r.expected)),
                  grouped(publisher.sent()) + "/" + grouped(o.messages) + " sent, " + grouped(delivered) + "/" +
                      grouped(r.expected) + " delivered");
    if (!published) {
      if (!publisher.done()) continue;
      published = true;  // the drain timeout counts from here at the earliest
      last_change = Clock::now();
    }
    if (delivered >= r.expected || seconds_since(last_change) > o.drain_timeout) break;
  }
  publisher.join();

  // Collect and merge what each worker counted.
  tell(workers, "F " + std::to_string(o.messages));
  const auto collect = Clock::now();
  for (;;) {
    bool all = true;
    for (const auto& w : workers) all = all && (w.has_result || w.gone);
    if (all || seconds_since(collect) > 30) break;
    pump(workers, 100);
  }
  int64_t last_us = 0;
  r.failed = 0;
  for (const auto& w : workers) {
    if (!w.error.empty() && r.error.empty()) r.error = w.error;
    if (!w.has_result) {
      if (r.error.empty()) r.error = "a worker sent no result";
      continue;
    }
    std::istringstream in(w.result);
    uint64_t delivered = 0, lost = 0, dup = 0, misrouted = 0, failed = 0, rx = 0, tx = 0;
    int64_t last = 0;
    in >> delivered >> lost >> dup >> misrouted >> failed >> rx >> tx >> last;
    std::string rest;
    std::getline(in, rest);
    Histogram h;
    if (!h.parse(rest) && r.error.empty()) r.error = "a worker's histogram did not parse";
    r.delivered += delivered;
    r.lost += lost;
    r.duplicated += dup;
    r.misrouted += misrouted;
    r.failed += failed;
    r.rx_bytes += rx;
    r.tx_bytes += tx;
    last_us = std::max(last_us, last);
    r.latency.merge(h);
  }
  r.publish_failed = publisher.failed();
  if (!publisher.error().empty() && r.error.empty()) r.error = publisher.error();
  r.publish_seconds = (publisher.last_us() - publisher.first_us()) / 1e6;
  r.deliver_seconds = last_us > publisher.first_us() ? (last_us - publisher.first_us()) / 1e6 : 0;

  char summary[256];
  std::snprintf(summary, sizeof summary, "%s: %s subscribed in %.2f s, %s of %s delivered, p99 %.2f ms%s",
                transport.c_str(), grouped(r.connected).c_str(), r.connect_seconds, grouped(r.delivered).c_str(),
                grouped(r.expected).c_str(), r.latency.quantile(0.99) / 1000, r.clean() ? "" : "  (NOT CLEAN)");
  progress.line(summary);
  // Let the server finish closing the crowd before the next transport connects.
  const auto pause = Clock::now();
  while (seconds_since(pause) < 0.5) pump(workers, 50);
  return r;
}

}  // namespace
}  // namespace herald::bench

int main(int argc, char** argv) {
  using namespace herald::bench;
  signal(SIGPIPE, SIG_IGN);
  const Options o = parse_options(argc, argv);

  // Every subscriber is a descriptor: take all the hard limit allows.
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  const uint64_t per_proc = (o.subscribers + o.procs - 1) / o.procs;
  if (per_proc + 64 > files.rlim_cur) {
    const uint64_t need = (o.subscribers + files.rlim_cur - 65) / (files.rlim_cur - 64);
    std::cerr << "herald-bench: " << o.subscribers << " subscribers need at least " << need
              << " processes (--procs) at " << files.rlim_cur << " descriptors each\n";
    return 2;
  }

  Target target;
  std::string why;
  try {
    target = resolve(o.server_binary.empty() ? o.url : "http://127.0.0.1:1");
  } catch (const std::exception& e) {
    std::cerr << "herald-bench: " << e.what() << '\n';
    return 2;
  }
  if (o.server_binary.empty() && !healthy(target, why)) {
    std::cerr << "herald-bench: " << why << '\n';
    return 2;
  }

  // Workers on loopback each take their own source address, so a run is not held
  // to one address's ephemeral ports.
  const bool loopback = (ntohl(target.addr.sin_addr.s_addr) >> 24) == 127;
  std::vector<WorkerHandle> workers(static_cast<size_t>(o.procs));
  for (int i = 0; i < o.procs; ++i) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      std::perror("herald-bench: socketpair");
      return 2;
    }
    WorkerConfig config;
    config.source = loopback ? htonl(0x7F000000u | static_cast<uint32_t>(10 + i)) : 0;
    std::cout.flush();
    const pid_t pid = fork();
    if (pid == 0) {
      for (int j = 0; j < i; ++j) ::close(workers[static_cast<size_t>(j)].fd);
      ::close(pair[0]);
      _exit(run_worker(config, pair[1]));
    }
    ::close(pair[1]);
    workers[static_cast<size_t>(i)].pid = pid;
    workers[static_cast<size_t>(i)].fd = pair[0];
  }

  Progress progress(o.progress);
  const std::string where = o.server_binary.empty() ? target.origin : "a fresh " + o.server_binary + " per transport";
  progress.line("herald-bench: " + where + ", " + workload_line(o));
  std::vector<TransportResult> results;
  for (size_t i = 0; i < o.transports.size(); ++i) {
    if (o.server_binary.empty()) {
      results.push_back(run_transport(o, target, o.server_pid, o.transports[i], static_cast<int>(i), workers, progress));
      continue;
    }
    Spawned server;
    try {
      server = spawn_server(o);
    } catch (const std::exception& e) {
      std::cerr << "herald-bench: " << e.what() << '\n';
      return 2;
    }
    if (!healthy(server.target, why)) {
      std::cerr << "herald-bench: " << why << '\n';
      stop_server(server.pid);
      return 2;
    }
    results.push_back(run_transport(o, server.target, server.pid, o.transports[i], static_cast<int>(i), workers,
                                    progress));
    stop_server(server.pid);
  }

  for (auto& w : workers) ::close(w.fd);
  for (auto& w : workers) waitpid(w.pid, nullptr, 0);

  std::cout << "herald-bench " << where << ": " << workload_line(o) << "\n\n";
  print_table(std::cout, results);
  bool clean = true;
  for (const auto& r : results) {
    if (r.clean()) continue;
    clean = false;
    std::cout << "\n" << r.transport << ": NOT CLEAN: " << r.lost << " lost, " << r.duplicated << " duplicated, "
              << r.misrouted << " on a wrong channel, " << r.failed << " subscribers failed, " << r.publish_failed
              << " not published, " << r.delivered << " of " << r.expected << " delivered"
              << (r.error.empty() ? "" : "; first error: " + r.error) << '\n';
  }
  if (!o.csv.empty()) {
    std::ofstream csv(o.csv);
    write_csv(csv, o, results);
    if (!csv) std::cerr << "herald-bench: cannot write " << o.csv << '\n', clean = false;
  }
  if (!o.svg.empty()) {
    std::ofstream svg(o.svg);
    write_svg(svg, o, results);
    if (!svg) std::cerr << "herald-bench: cannot write " << o.svg << '\n', clean = false;
  }
  return clean ? 0 : 1;
}
