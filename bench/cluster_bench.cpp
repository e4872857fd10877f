// herald_cluster_bench: what a Herald cluster costs, measured against running nodes
// (bench/cluster_bench.sh starts them and calls this).
//
//   herald_cluster_bench latency PUBLISH_PORT SUB_PORT... [--messages N] [--rate R]
//     Publishes N single messages to PUBLISH_PORT, R per second, one request at a
//     time, while an SSE and a WebSocket subscriber on every SUB_PORT receive them.
//     Reports, per subscriber, publish-to-receive latency (the clock starts before
//     the POST is written), and per node the extra time over the first SUB_PORT
//     (message by message, so the same publish is compared). With HERALD_BENCH_DUMP=FILE
//     it also writes one CSV line per message.
//
//   herald_cluster_bench throughput PORT... [--seconds S] [--connections C] [--batch B]
//     C connections (spread over the ports) each POST arrays of B messages (B = 1:
//     single objects) back to back for S seconds; reports acknowledged messages per
//     second. Herald answers only after RabbitMQ's publisher confirm.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cluster_support.h"

using namespace herald::test;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size()) + 0.999999);
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

void print_stats(const std::string& what, const std::vector<double>& v) {
  std::printf("  %-34s n=%-5zu p50 %7.2f ms   p99 %7.2f ms   max %7.2f ms\n", what.c_str(), v.size(),
              percentile(v, 0.5), percentile(v, 0.99), v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()));
}

struct Args {
  std::vector<int> ports;
  std::map<std::string, double> opts;
  double get(const std::string& k, double d) const { return opts.count(k) ? opts.at(k) : d; }
};

Args parse(int argc, char** argv, int from) {
  Args a;
  for (int i = from; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0 && i + 1 < argc) {
      a.opts[s.substr(2)] = std::atof(argv[++i]);
    } else {
      a.ports.push_back(std::atoi(s.c_str()));
    }
  }
  return a;
}

int latency(const Args& a) {
  if (a.ports.size() < 2) return std::fprintf(stderr, "latency: PUBLISH_PORT SUB_PORT...\n"), 2;
  const int pub_port = a.ports[0];
  const std::vector<int> sub_ports(a.ports.begin() + 1, a.ports.end());
  const size_t n = static_cast<size_t>(a.get("messages", 2000));
  const double rate = a.get("rate", 200);
  const std::string dump_path = std::getenv("HERALD_BENCH_DUMP") ? std::getenv("HERALD_BENCH_DUMP") : "";
  const std::string channel = "bench:latency-" + std::to_string(Clock::now().time_since_epoch().count() % 100000);

  std::vector<std::unique_ptr<Subscriber>> subs;
  for (int p : sub_ports) {
    subs.push_back(std::make_unique<Subscriber>(Wire::Sse, std::vector<int>{p}, std::vector<std::string>{channel}));
    subs.push_back(std::make_unique<Subscriber>(Wire::WebSocket, std::vector<int>{p}, std::vector<std::string>{channel}));
  }
  for (auto& s : subs)
    if (!s->wait_subscribed(10000)) return std::fprintf(stderr, "%s never subscribed\n", s->describe().c_str()), 1;

  httplib::Client cli("127.0.0.1", pub_port);
  cli.set_keep_alive(true);
  cli.set_tcp_nodelay(true);
  cli.set_read_timeout(30, 0);
  std::map<std::string, Clock::time_point> sent;  // data -> when its POST began
  std::vector<double> answer_ms;
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  auto next = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    std::this_thread::sleep_until(next);
    next += period;
    const std::string data = "{\"n\":" + std::to_string(i) + "}";
    const auto t0 = Clock::now();
    auto res = cli.Post("/api/publish", "{\"channel\":\"" + channel + "\",\"data\":" + data + "}", "application/json");
    if (!res || res->status != 200) return std::fprintf(stderr, "publish %zu failed\n", i), 1;
    answer_ms.push_back(ms(Clock::now() - t0));
    sent[data] = t0;
  }
  for (auto& s : subs)
    if (!s->wait_count(n, 30000)) return std::fprintf(stderr, "%s: not everything arrived\n", s->describe().c_str()), 1;

  std::printf("latency: %zu messages at %.0f/s, published on port %d\n", n, rate, pub_port);
  print_stats("publish answered (confirm)", answer_ms);
  // Per subscriber: latency by message; per node: extra over the first node, by message.
  std::vector<std::map<std::string, double>> by_data(subs.size());
  for (size_t k = 0; k < subs.size(); ++k) {
    std::vector<double> v;
    for (const auto& d : subs[k]->deliveries()) {
      const double l = ms(d.at - sent.at(d.data));
      by_data[k][d.data] = l;
      v.push_back(l);
    }
    const int port = sub_ports[k / 2];
    print_stats(std::string(k % 2 == 0 ? "SSE" : "WebSocket") + " on port " + std::to_string(port) +
                    (port == pub_port ? " (publishing node)" : ""),
                v);
  }
  if (!dump_path.empty()) {  // one line per message: n, sent (ms from the first), answer, each subscriber
    if (FILE* f = std::fopen(dump_path.c_str(), "w")) {
      std::fprintf(f, "n,sent_ms,answer_ms");
      for (size_t k = 0; k < subs.size(); ++k) std::fprintf(f, ",%s_%d", k % 2 == 0 ? "sse" : "ws", sub_ports[k / 2]);
      std::fprintf(f, "\n");
      const auto first = sent.at("{\"n\":0}");
      for (size_t i = 0; i < n; ++i) {
        const std::string data = "{\"n\":" + std::to_string(i) + "}";
        std::fprintf(f, "%zu,%.3f,%.3f", i, ms(sent.at(data) - first), answer_ms[i]);
        for (size_t k = 0; k < subs.size(); ++k) std::fprintf(f, ",%.3f", by_data[k].at(data));
        std::fprintf(f, "\n");
      }
      std::fclose(f);
    }
  }
  for (size_t k = 2; k < subs.size(); ++k) {
    std::vector<double> extra;
    for (const auto& [data, l] : by_data[k]) extra.push_back(l - by_data[k % 2].at(data));
    print_stats(std::string(k % 2 == 0 ? "SSE" : "WebSocket") + " extra on port " + std::to_string(sub_ports[k / 2]),
                extra);
  }
  return 0;
}

int throughput(const Args& a) {
  if (a.ports.empty()) return std::fprintf(stderr, "throughput: PORT...\n"), 2;
  const double seconds = a.get("seconds", 5);
  const int connections = static_cast<int>(a.get("connections", 8));
  const int batch = static_cast<int>(a.get("batch", 1));
  std::atomic<uint64_t> acked{0}, failed{0};
  std::vector<std::vector<double>> request_ms(static_cast<size_t>(connections));
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client cli("127.0.0.1", a.ports[static_cast<size_t>(c) % a.ports.size()]);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      cli.set_read_timeout(30, 0);
      const std::string channel = "bench:throughput-" + std::to_string(c % 8);
      uint64_t k = 0;
      while (Clock::now() < end) {
        std::string body;
        if (batch == 1) {
          body = "{\"channel\":\"" + channel + "\",\"data\":{\"c\":" + std::to_string(c) + ",\"k\":" + std::to_string(k++) + "}}";
        } else {
          body = "[";
          for (int i = 0; i < batch; ++i) {
            if (i) body += ',';
            body += "{\"channel\":\"" + channel + "\",\"data\":{\"c\":" + std::to_string(c) + ",\"k\":" + std::to_string(k++) + "}}";
          }
          body += "]";
        }
        const auto t0 = Clock::now();
        auto res = cli.Post("/api/publish", body, "application/json");
        if (res && res->status == 200) {
          acked += static_cast<uint64_t>(batch);
          request_ms[static_cast<size_t>(c)].push_back(ms(Clock::now() - t0));
        } else {
          failed += static_cast<uint64_t>(batch);
        }
      }
    });
  }
  const auto t0 = Clock::now();
  for (auto& t : threads) t.join();
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  for (auto& v : request_ms) all.insert(all.end(), v.begin(), v.end());
  std::printf("throughput: %d connection(s) over %zu node(s), %d message(s) per request: %.0f messages/s acknowledged"
              " (%llu in %.1f s, %llu failed)\n",
              connections, a.ports.size(), batch, static_cast<double>(acked.load()) / took,
              static_cast<unsigned long long>(acked.load()), took, static_cast<unsigned long long>(failed.load()));
  print_stats("request answered", all);
  return failed.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "latency") return latency(parse(argc, argv, 2));
  if (mode == "throughput") return throughput(parse(argc, argv, 2));
  std::fprintf(stderr,
               "usage: %s latency PUBLISH_PORT SUB_PORT... [--messages N] [--rate R]\n"
               "       %s throughput PORT... [--seconds S] [--connections C] [--batch B]\n",
               argv[0], argv[0]);
  return 2;
}
