// herald-bench: compares Herald's transports on one workload.
//
// The coordinator (this process) forks --procs workers, each an epoll loop holding
// its share of the subscribers (worker.cpp). For each transport in turn it has the
// workers connect and subscribe, reads the server's memory, publishes the messages
// at the chosen rate from a thread (publisher.cpp), waits for every delivery, then
// collects counts, bytes and latency histograms. Transports run one after another
// so they do not compete for the same cores.
//
// With --phases it runs a list of workloads on one connected crowd instead, against
// Herald or nginx+nchan (phases.cpp): the side-by-side comparison's building block.
#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "bench/herald_bench/crowd.h"
#include "bench/herald_bench/options.h"
#include "bench/herald_bench/phases.h"
#include "bench/herald_bench/publisher.h"
#include "bench/herald_bench/report.h"
#include "bench/herald_bench/worker.h"

namespace herald::bench {
namespace {

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
                              int round, Crowd& crowd, Progress& progress) {
  TransportResult r;
  r.transport = transport;
  r.subscribers = o.subscribers;
  r.expected = expected_deliveries(o);
  const std::string prefix = "bench:" + std::to_string(getpid()) + "-" + std::to_string(round) + ".";

  // Connect and subscribe everyone.
  r.rss_before_kib = server_rss_kib(server_pid);
  crowd.connect(target,
                ConnectPlan{transport, "herald", o.subscribers, o.channels, prefix, o.window, o.connect_timeout}, r,
                progress);
  // Give the server a moment to finish what accepting left behind before reading its memory.
  const auto settle = Clock::now();
  while (seconds_since(settle) < 0.3) crowd.pump(50);
  r.rss_after_kib = server_rss_kib(server_pid);

  // Publish and wait for every delivery.
  crowd.start_measuring();
  Publisher publisher(PublishPlan{target.origin, prefix, o.channels, o.messages, o.rate, o.size});
  publisher.start();
  uint64_t last_seen = 0;
  bool published = false;
  auto last_change = Clock::now();
  for (;;) {
    crowd.pump(50);
    const uint64_t delivered = crowd.delivered();
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
  crowd.collect(o.messages, true, r);
  r.publish_failed = publisher.failed();
  if (!publisher.error().empty() && r.error.empty()) r.error = publisher.error();
  r.publish_seconds = (publisher.last_us() - publisher.first_us()) / 1e6;
  r.deliver_seconds = r.last_delivery_us > publisher.first_us() ? (r.last_delivery_us - publisher.first_us()) / 1e6 : 0;

  char summary[256];
  std::snprintf(summary, sizeof summary, "%s: %s subscribed in %.2f s, %s of %s delivered, p99 %.2f ms%s",
                transport.c_str(), grouped(r.connected).c_str(), r.connect_seconds, grouped(r.delivered).c_str(),
                grouped(r.expected).c_str(), r.latency.quantile(0.99) / 1000, r.clean() ? "" : "  (NOT CLEAN)");
  progress.line(summary);
  // Let the server finish closing the crowd before the next transport connects.
  const auto pause = Clock::now();
  while (seconds_since(pause) < 0.5) crowd.pump(50);
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
  // nchan has no /healthz; its run fails at the first connection instead.
  if (o.server_binary.empty() && o.dialect == "herald" && !healthy(target, why)) {
    std::cerr << "herald-bench: " << why << '\n';
    return 2;
  }

  // Workers on loopback each take their own source address, so a run is not held
  // to one address's ephemeral ports.
  const bool loopback = (ntohl(target.addr.sin_addr.s_addr) >> 24) == 127;
  std::unique_ptr<Crowd> crowd;
  try {
    crowd = std::make_unique<Crowd>(o.procs, loopback);
  } catch (const std::exception& e) {
    std::cerr << "herald-bench: " << e.what() << '\n';
    return 2;
  }
  if (!o.phases.empty()) return run_phases(o, target, *crowd);

  Progress progress(o.progress);
  const std::string where = o.server_binary.empty() ? target.origin : "a fresh " + o.server_binary + " per transport";
  progress.line("herald-bench: " + where + ", " + workload_line(o));
  std::vector<TransportResult> results;
  for (size_t i = 0; i < o.transports.size(); ++i) {
    if (o.server_binary.empty()) {
      results.push_back(run_transport(o, target, o.server_pid, o.transports[i], static_cast<int>(i), *crowd, progress));
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
    results.push_back(
        run_transport(o, server.target, server.pid, o.transports[i], static_cast<int>(i), *crowd, progress));
    stop_server(server.pid);
  }

  crowd.reset();

  std::cout << "herald-bench " << where << ": " << workload_line(o) << "\n\n";
  print_table(std::cout, results);
  bool clean = true;
  for (const auto& r : results) {
    if (r.clean()) continue;
    clean = false;
    std::cout << "\n"
              << r.transport << ": NOT CLEAN: " << r.lost << " lost, " << r.duplicated << " duplicated, " << r.misrouted
              << " on a wrong channel, " << r.failed << " subscribers failed, " << r.publish_failed
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
