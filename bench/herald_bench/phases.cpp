#include "bench/herald_bench/phases.h"

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "bench/herald_bench/publisher.h"

namespace herald::bench {
namespace {

// Deliveries owed for messages first..first+count-1: each to every subscriber of its channel.
uint64_t owed(const Options& o, uint64_t first, uint64_t count) {
  const uint64_t base = o.subscribers / o.channels, extra = o.subscribers % o.channels;
  uint64_t total = 0;
  for (uint64_t k = first; k < first + count; ++k) total += base + (k % o.channels < extra ? 1 : 0);
  return total;
}

// nchan only says a subscriber is registered through its channel's info: wait until
// the publisher location counts them all, so the memory reading sees every one.
void await_nchan_subscribers(const Target& target, const std::string& channel, uint64_t want, Progress& progress) {
  httplib::Client http(target.origin);
  const auto start = Clock::now();
  uint64_t have = 0;
  while (seconds_since(start) < 20) {
    auto res = http.Get("/pub/" + channel, httplib::Headers{{"Accept", "text/json"}});
    if (res && res->status == 200) {
      const auto at = res->body.find("\"subscribers\":");
      if (at != std::string::npos) have = std::strtoull(res->body.c_str() + at + 14, nullptr, 10);
      if (have >= want) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  progress.line("nchan counts " + grouped(have) + " of " + grouped(want) + " subscribers after 20 s");
}

void settle(Crowd& crowd, double seconds) {
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) crowd.pump(50);
}

std::string num(double v, int decimals) {
  if (v < 0 || !std::isfinite(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

TransportResult run_phase(const Options& o, const Target& target, const PhaseSpec& spec, double peak_rate,
                          uint64_t first, const std::string& prefix, int server_pid, Crowd& crowd, Progress& progress) {
  TransportResult r;
  r.server = o.label;
  r.transport = o.transports[0];
  r.phase = spec.name;
  r.size = spec.size;
  r.subscribers = o.subscribers;
  r.rate = spec.burst ? 0 : spec.rate > 0 ? spec.rate : spec.peak_fraction * peak_rate;
  if (!spec.burst && r.rate <= 0) {
    r.error = "no burst before '" + spec.name + "' measured a peak";
    return r;
  }
  // A steady phase sends at least three messages, so its percentiles do not all come
  // from one fan-out, even when the rate is low.
  r.messages = spec.burst ? spec.messages : std::max<uint64_t>(3, static_cast<uint64_t>(r.rate * spec.seconds));
  r.expected = owed(o, first, r.messages);

  const CpuTimes cpu_before = server_cpu(server_pid);
  PublishPlan plan{target.origin, prefix, o.channels, r.messages,       r.rate,
                   spec.size,     first,  o.dialect,  o.publish_single, o.publish_connections};
  Publisher publisher(plan);
  publisher.start();
  uint64_t last_seen = 0;
  bool published = false;
  auto last_change = Clock::now();
  for (;;) {
    crowd.pump(20);
    const uint64_t delivered = crowd.delivered();
    if (delivered != last_seen) last_seen = delivered, last_change = Clock::now();
    progress.show(o.label + " " + r.transport + " " + spec.name,
                  double(delivered) / double(std::max<uint64_t>(1, r.expected)),
                  grouped(publisher.sent()) + "/" + grouped(r.messages) + " sent, " + grouped(delivered) + "/" +
                      grouped(r.expected) + " delivered");
    if (!published) {
      if (!publisher.done()) continue;
      published = true;
      last_change = Clock::now();
    }
    if (delivered >= r.expected || seconds_since(last_change) > o.drain_timeout) break;
  }
  const CpuTimes cpu_after = server_cpu(server_pid);
  publisher.join();
  crowd.collect(first + r.messages, false, r);
  if (cpu_before.user >= 0 && cpu_after.user >= 0) {
    r.cpu_user_seconds = cpu_after.user - cpu_before.user;
    r.cpu_seconds = r.cpu_user_seconds + cpu_after.system - cpu_before.system;
  }
  r.publish_failed = publisher.failed();
  if (!publisher.error().empty() && r.error.empty()) r.error = publisher.error();
  r.publish_seconds = (publisher.last_us() - publisher.first_us()) / 1e6;
  r.deliver_seconds = r.last_delivery_us > publisher.first_us() ? (r.last_delivery_us - publisher.first_us()) / 1e6 : 0;
  char summary[320];
  std::snprintf(summary, sizeof summary, "%s %s %s: %s of %s delivered, %s/s, %s us CPU each, p99 %.2f ms%s",
                o.label.c_str(), r.transport.c_str(), spec.name.c_str(), grouped(r.delivered).c_str(),
                grouped(r.expected).c_str(), grouped(static_cast<uint64_t>(r.deliveries_per_second())).c_str(),
                num(r.delivered ? r.cpu_seconds * 1e6 / double(r.delivered) : -1, 2).c_str(),
                r.latency.quantile(0.99) / 1000, r.clean() ? "" : "  (NOT CLEAN)");
  progress.line(summary);
  return r;
}

const char* kColumns[] = {"server",
                          "transport",
                          "phase",
                          "channels",
                          "subscribers",
                          "connected",
                          "size",
                          "messages",
                          "rate",
                          "expected",
                          "delivered",
                          "lost",
                          "duplicated",
                          "misrouted",
                          "failed",
                          "publish_failed",
                          "deliveries_per_s",
                          "cycles",
                          "cycles_per_s",
                          "cpu_s",
                          "cpu_us_per_delivery",
                          "cpu_us_per_cycle",
                          "cpu_user_s",
                          "user_us_per_delivery",
                          "user_us_per_cycle",
                          "p50_ms",
                          "p99_ms",
                          "p999_ms",
                          "max_ms",
                          "rss_before_kib",
                          "rss_after_kib",
                          "kib_per_conn",
                          "wire_bytes_per_msg",
                          "connect_per_s",
                          "clean",
                          "error"};

std::vector<std::string> cells(const Options& o, const TransportResult& r) {
  const bool idle = r.phase == "idle";
  auto per = [&](uint64_t n, double seconds) { return n && seconds >= 0 ? num(seconds * 1e6 / double(n), 3) : ""; };
  std::string error = r.error;
  std::replace(error.begin(), error.end(), ',', ';');
  std::replace(error.begin(), error.end(), '\n', ' ');
  return {r.server,
          r.transport,
          r.phase,
          std::to_string(o.channels),
          std::to_string(r.subscribers),
          std::to_string(r.connected),
          idle ? "" : std::to_string(r.size),
          idle ? "" : std::to_string(r.messages),
          idle ? "" : num(r.rate, 2),
          std::to_string(r.expected),
          std::to_string(r.delivered),
          std::to_string(r.lost),
          std::to_string(r.duplicated),
          std::to_string(r.misrouted),
          std::to_string(r.failed),
          std::to_string(r.publish_failed),
          idle ? "" : num(r.deliveries_per_second(), 0),
          std::to_string(r.cycles),
          idle || r.deliver_seconds <= 0 ? "" : num(double(r.cycles) / r.deliver_seconds, 0),
          num(r.cpu_seconds, 2),
          per(r.delivered, r.cpu_seconds),
          per(r.cycles, r.cpu_seconds),
          num(r.cpu_user_seconds, 2),
          per(r.delivered, r.cpu_user_seconds),
          per(r.cycles, r.cpu_user_seconds),
          idle ? "" : num(r.latency.quantile(0.5) / 1000, 3),
          idle ? "" : num(r.latency.quantile(0.99) / 1000, 3),
          idle ? "" : num(r.latency.quantile(0.999) / 1000, 3),
          idle ? "" : num(double(r.latency.max()) / 1000, 3),
          r.rss_before_kib < 0 ? "" : std::to_string(r.rss_before_kib),
          r.rss_after_kib < 0 ? "" : std::to_string(r.rss_after_kib),
          idle ? num(r.server_kib_per_connection(), 3) : "",
          idle ? "" : num(r.wire_bytes_per_message(), 1),
          idle ? num(r.connect_rate(), 0) : "",
          r.clean() ? "1" : "0",
          error};
}

void print(std::ostream& out, const Options& o, const std::vector<TransportResult>& results) {
  std::vector<size_t> shown;
  for (std::string_view name : {"server", "transport", "phase", "connected", "delivered", "lost", "duplicated",
                                "deliveries_per_s", "cycles", "cpu_us_per_delivery", "cpu_us_per_cycle",
                                "user_us_per_delivery", "p50_ms", "p99_ms", "p999_ms", "kib_per_conn"})
    for (size_t c = 0; c < std::size(kColumns); ++c)
      if (name == kColumns[c]) shown.push_back(c);
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : results) rows.push_back(cells(o, r));
  std::vector<size_t> width;
  for (size_t c : shown) {
    size_t w = std::string_view(kColumns[c]).size();
    for (const auto& row : rows) w = std::max(w, row[c].size());
    width.push_back(w);
  }
  auto line = [&](auto cell) {
    for (size_t i = 0; i < shown.size(); ++i)
      out << (i ? "  " : "") << std::setw(static_cast<int>(width[i])) << cell(shown[i]);
    out << '\n';
  };
  line([](size_t c) { return std::string(kColumns[c]); });
  for (const auto& row : rows) line([&](size_t c) { return row[c]; });
}

}  // namespace

int run_phases(const Options& o, const Target& target, Crowd& crowd) {
  Progress progress(o.progress);
  const std::string prefix = "bench-" + std::to_string(getpid()) + ".";
  std::vector<TransportResult> results;

  TransportResult idle;
  idle.server = o.label;
  idle.transport = o.transports[0];
  idle.phase = "idle";
  idle.subscribers = o.subscribers;
  idle.rss_before_kib = server_rss_kib(o.server_pid);
  crowd.connect(target,
                ConnectPlan{idle.transport, o.dialect, o.subscribers, o.channels, prefix, o.window, o.connect_timeout},
                idle, progress);
  if (o.dialect == "nchan" && o.channels == 1) await_nchan_subscribers(target, prefix + "0", idle.connected, progress);
  settle(crowd, 0.5);  // what accepting left behind, before the memory reading
  idle.rss_after_kib = server_rss_kib(o.server_pid);
  idle.failed = idle.subscribers - idle.connected;
  progress.line(o.label + " " + idle.transport + ": " + grouped(idle.connected) + " subscribed in " +
                num(idle.connect_seconds, 2) + " s, " + num(idle.server_kib_per_connection(), 2) +
                " KiB server memory each");
  results.push_back(idle);

  crowd.start_measuring();
  uint64_t next = 0;
  double peak_rate = 0;
  for (const auto& spec : o.phases) {
    if (!results.back().clean()) break;  // a broken crowd measures nothing more
    results.push_back(run_phase(o, target, spec, peak_rate, next, prefix, o.server_pid, crowd, progress));
    const auto& r = results.back();
    next += r.messages;
    if (spec.burst && r.deliveries_per_second() > 0)
      peak_rate = r.deliveries_per_second() * o.channels / double(o.subscribers);
    settle(crowd, 0.3);
  }
  TransportResult closing;
  crowd.collect(next, true, closing);

  std::cout << "herald-bench phases: " << o.label << " (" << o.dialect << ") at " << target.origin << ", "
            << o.transports[0] << ", " << grouped(o.subscribers) << " subscribers on " << grouped(o.channels)
            << " channel" << (o.channels == 1 ? "" : "s") << "\n\n";
  print(std::cout, o, results);
  bool clean = true;
  for (const auto& r : results) {
    if (r.clean()) continue;
    clean = false;
    std::cout << "\n"
              << r.phase << ": NOT CLEAN: " << r.lost << " lost, " << r.duplicated << " duplicated, " << r.misrouted
              << " on a wrong channel, " << r.failed << " subscribers failed, " << r.publish_failed
              << " not published, " << r.delivered << " of " << r.expected << " delivered"
              << (r.error.empty() ? "" : "; first error: " + r.error) << '\n';
  }
  if (results.size() < o.phases.size() + 1) clean = false;
  if (!o.csv.empty()) {
    std::ofstream csv(o.csv);
    for (size_t c = 0; c < std::size(kColumns); ++c) csv << (c ? "," : "") << kColumns[c];
    csv << '\n';
    for (const auto& r : results) {
      const auto row = cells(o, r);
      for (size_t c = 0; c < row.size(); ++c) csv << (c ? "," : "") << row[c];
      csv << '\n';
    }
    if (!csv) std::cerr << "herald-bench: cannot write " << o.csv << '\n', clean = false;
  }
  return clean ? 0 : 1;
}

}  // namespace herald::bench
