#include "bench/herald_bench/crowd.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "bench/herald_bench/worker.h"

namespace herald::bench {

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

long server_rss_kib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  return -1;
}

CpuTimes server_cpu(int pid) {
  if (pid <= 0) return {};
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // The command name may hold spaces and parentheses: fields count from the last ')'.
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return {};
  std::istringstream fields(text.substr(paren + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  if (!fields) return {};
  const double tick = double(sysconf(_SC_CLK_TCK));
  return {double(utime) / tick, double(stime) / tick};
}

Progress::Progress(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) == 1) {}

void Progress::show(const std::string& label, double fraction, const std::string& detail) {
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
  std::cerr << (tty_ ? "\r\033[K" : "") << label << "  " << bar << ' ' << pct << "  " << detail << (tty_ ? "" : "\n")
            << std::flush;
}

void Progress::line(const std::string& text) {
  if (!enabled_) return;
  std::cerr << (tty_ ? "\r\033[K" : "") << text << '\n' << std::flush;
  next_ = {};
}

Crowd::Crowd(int procs, bool loopback) : workers_(static_cast<size_t>(procs)) {
  for (int i = 0; i < procs; ++i) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
      throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
    WorkerConfig config;
    config.source = loopback ? htonl(0x7F000000u | static_cast<uint32_t>(10 + i)) : 0;
    std::cout.flush();
    const pid_t pid = fork();
    if (pid == 0) {
      for (int j = 0; j < i; ++j) ::close(workers_[static_cast<size_t>(j)].fd);
      ::close(pair[0]);
      _exit(run_worker(config, pair[1]));
    }
    ::close(pair[1]);
    workers_[static_cast<size_t>(i)].pid = pid;
    workers_[static_cast<size_t>(i)].fd = pair[0];
  }
}

Crowd::~Crowd() {
  for (auto& w : workers_) ::close(w.fd);
  for (auto& w : workers_) waitpid(w.pid, nullptr, 0);
}

void Crowd::pump(int timeout_ms) {
  std::vector<pollfd> fds;
  for (const auto& w : workers_) fds.push_back(pollfd{w.gone ? -1 : w.fd, POLLIN, 0});
  if (::poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
  char buf[1 << 16];
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    auto& w = workers_[i];
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
        w.delivered = 0;  // progress lines after a report count the next phase
      } else if (line.starts_with("E ") && w.error.empty()) {
        w.error = line.substr(2);
      }
    }
  }
}

void Crowd::tell(const std::string& line) {
  for (auto& w : workers_) {
    if (w.gone) continue;
    const std::string out = line + "\n";
    if (::write(w.fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) w.gone = true;
  }
}

uint64_t Crowd::total(uint64_t Worker::*field) const {
  uint64_t sum = 0;
  for (const auto& w : workers_) sum += w.*field;
  return sum;
}

uint64_t Crowd::delivered() const { return total(&Worker::delivered); }

bool Crowd::all_gone() const {
  return std::all_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.gone; });
}

void Crowd::start_measuring() { tell("M"); }

void Crowd::connect(const Target& target, const ConnectPlan& plan, TransportResult& r, Progress& progress) {
  for (auto& w : workers_) w.live = w.failed = w.delivered = 0, w.has_result = false, w.error.clear();
  const size_t procs = workers_.size();
  const auto connect_start = Clock::now();
  const uint64_t window = std::max<uint64_t>(1, (plan.window + procs - 1) / procs);
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &target.addr.sin_addr, ip, sizeof ip);
  for (size_t i = 0; i < procs; ++i) {
    const uint64_t first = plan.subscribers * i / procs, last = plan.subscribers * (i + 1) / procs;
    const std::string line = "C " + plan.transport + " " + std::to_string(first) + " " + std::to_string(last - first) +
                             " " + std::to_string(plan.channels) + " " + plan.prefix + " " + std::to_string(window) +
                             " " + ip + " " + std::to_string(ntohs(target.addr.sin_port)) + " " + plan.dialect + "\n";
    if (::write(workers_[i].fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) workers_[i].gone = true;
  }
  for (;;) {
    pump(50);
    const uint64_t done = total(&Worker::live) + total(&Worker::failed);
    const double elapsed = seconds_since(connect_start);
    progress.show(plan.transport + " connect", double(done) / double(plan.subscribers),
                  grouped(total(&Worker::live)) + "/" + grouped(plan.subscribers) + " subscribed, " +
                      grouped(static_cast<uint64_t>(done / std::max(elapsed, 1e-3))) + "/s");
    if (done >= plan.subscribers || elapsed > plan.timeout_s || all_gone()) break;
  }
  r.connect_seconds = seconds_since(connect_start);
  r.connected = total(&Worker::live);
}

void Crowd::collect(uint64_t messages, bool close, TransportResult& r) {
  for (auto& w : workers_) w.has_result = false;
  tell((close ? "F " : "S ") + std::to_string(messages));
  const auto start = Clock::now();
  for (;;) {
    const bool all =
        std::all_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.has_result || w.gone; });
    if (all || seconds_since(start) > 30) break;
    pump(100);
  }
  int64_t last_us = 0;
  for (const auto& w : workers_) {
    if (!w.error.empty() && r.error.empty()) r.error = w.error;
    if (!w.has_result) {
      if (r.error.empty()) r.error = "a worker sent no result";
      continue;
    }
    std::istringstream in(w.result);
    uint64_t delivered = 0, lost = 0, dup = 0, misrouted = 0, failed = 0, rx = 0, tx = 0, cycles = 0;
    int64_t last = 0;
    in >> delivered >> lost >> dup >> misrouted >> failed >> rx >> tx >> last >> cycles;
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
    r.cycles += cycles;
    last_us = std::max(last_us, last);
    r.latency.merge(h);
  }
  r.last_delivery_us = last_us;
}

}  // namespace herald::bench
