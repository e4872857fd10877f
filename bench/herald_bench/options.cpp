#include "bench/herald_bench/options.h"

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace herald::bench {
namespace {

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: herald-bench [options]\n"
               "Holds many subscribers per transport on epoll loops, publishes one workload and\n"
               "compares WebSocket, SSE and long-polling on it. Exits 1 if any message is lost or\n"
               "duplicated or any subscriber fails.\n"
               "\n"
               "  --url URL              Herald server (default http://127.0.0.1:8080)\n"
               "  --transports LIST      any of websocket,sse,longpoll, run one after another (default all)\n"
               "  --subscribers N        subscribers per transport (default 1000)\n"
               "  --channels C           channels; subscriber i listens to channel i %% C (default 10)\n"
               "  --rate R               messages per second, over all channels (default 1000)\n"
               "  --messages M           messages per transport (default 5000)\n"
               "  --size B               bytes of each message's data (default 100)\n"
               "  --procs P              subscriber processes, each on its own 127.0.0.x source\n"
               "                         address (default 1; one process holds about 19,000)\n"
               "  --server-pid PID       read the server's memory from /proc/PID/status\n"
               "  --server-binary PATH   start a fresh herald on 127.0.0.1 for each transport (instead of\n"
               "                         --url), so memory per connection is measured from a clean start\n"
               "  --server-arg ARG       an argument for that herald (repeat for each)\n"
               "  --csv FILE             write the results as CSV\n"
               "  --svg FILE             write a chart of latency and throughput as SVG\n"
               "  --window W             handshakes in flight, over all processes (default 100; more than\n"
               "                         the server's listen backlog overflows it: SYNs retried after 1 s)\n"
               "  --connect-timeout S    seconds to wait for every subscriber (default 60)\n"
               "  --drain-timeout S      seconds without a delivery before counting the rest lost (default 10)\n"
               "  --no-progress          no progress bar on stderr\n"
               "\n"
               "Phased run (the side-by-side comparison with nginx+nchan, bench/nchan/compare.py):\n"
               "  --phases LIST          workloads in order on one crowd of --subscribers on --channels, one\n"
               "                         transport, after an idle memory reading; each [NAME=]SPEC of\n"
               "                           burst:SIZE:MESSAGES        as fast as the server acknowledges\n"
               "                           steady:SIZE:SECONDS:RATE   RATE messages/s, or Fpeak: F times the\n"
               "                                                      last burst's message rate (3 messages at least)\n"
               "  --dialect D            herald (default) or nchan (nginx with nchan, locations /sub/<channel>\n"
               "                         and /pub/<channel>; see bench/nchan/nginx.conf.template)\n"
               "  --label NAME           the server's name in the table and CSV (default: the dialect)\n"
               "  --publish-single       one message per publish request (nchan: always)\n"
               "  --publish-connections N  publishing connections for single publishes (default 4)\n");
}

[[noreturn]] void bad(const std::string& message) {
  std::fprintf(stderr, "herald-bench: %s (see --help)\n", message.c_str());
  std::exit(2);
}

double number(std::string_view flag, const char* text, double min, double max);

std::vector<std::string_view> split(std::string_view list, char by) {
  std::vector<std::string_view> parts;
  while (!list.empty()) {
    const auto at = list.find(by);
    parts.push_back(list.substr(0, at));
    list = at == std::string_view::npos ? std::string_view{} : list.substr(at + 1);
  }
  return parts;
}

PhaseSpec phase(std::string_view text) {
  PhaseSpec p;
  const auto eq = text.find('=');
  p.name = std::string(eq == std::string_view::npos ? text : text.substr(0, eq));
  if (eq != std::string_view::npos) text.remove_prefix(eq + 1);
  const auto f = split(text, ':');
  const std::string field = "--phases " + std::string(text);
  auto num = [&](size_t i, double min, double max) { return number(field, std::string(f[i]).c_str(), min, max); };
  if (f.size() == 3 && f[0] == "burst") {
    p.size = static_cast<size_t>(num(1, 0, 900'000));
    p.messages = static_cast<uint64_t>(num(2, 1, 1e9));
  } else if (f.size() == 4 && f[0] == "steady") {
    p.burst = false;
    p.size = static_cast<size_t>(num(1, 0, 900'000));
    p.seconds = num(2, 0.1, 3600);
    if (f[3].ends_with("peak")) {
      p.peak_fraction = number(field, std::string(f[3].substr(0, f[3].size() - 4)).c_str(), 0.001, 10);
    } else {
      p.rate = num(3, 0.01, 1e7);
    }
  } else {
    bad("a phase is burst:SIZE:MESSAGES or steady:SIZE:SECONDS:RATE (RATE may be Fpeak), not '" + std::string(text) +
        "'");
  }
  return p;
}

double number(std::string_view flag, const char* text, double min, double max) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(v >= min && v <= max))
    bad(std::string(flag) + " must be a number from " + std::to_string(min) + " to " + std::to_string(max));
  return v;
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) bad(std::string(a) + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    } else if (a == "--url") {
      o.url = value();
    } else if (a == "--transports") {
      o.transports.clear();
      std::string_view list = value();
      while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view t = list.substr(0, comma);
        if (t != "websocket" && t != "sse" && t != "longpoll")
          bad("unknown transport '" + std::string(t) + "': use websocket, sse, longpoll");
        o.transports.emplace_back(t);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      }
      if (o.transports.empty()) bad("--transports needs at least one transport");
    } else if (a == "--subscribers") {
      o.subscribers = static_cast<uint64_t>(number(a, value(), 1, 10'000'000));
    } else if (a == "--channels") {
      o.channels = static_cast<uint32_t>(number(a, value(), 1, 1'000'000));
    } else if (a == "--rate") {
      o.rate = number(a, value(), 0.1, 10'000'000);
    } else if (a == "--messages") {
      o.messages = static_cast<uint64_t>(number(a, value(), 1, 1e12));
    } else if (a == "--size") {
      o.size = static_cast<size_t>(number(a, value(), 0, 900'000));
    } else if (a == "--procs") {
      o.procs = static_cast<int>(number(a, value(), 1, 64));
    } else if (a == "--server-pid") {
      o.server_pid = static_cast<int>(number(a, value(), 1, 1 << 30));
    } else if (a == "--server-binary") {
      o.server_binary = value();
    } else if (a == "--server-arg") {
      o.server_args.emplace_back(value());
    } else if (a == "--csv") {
      o.csv = value();
    } else if (a == "--svg") {
      o.svg = value();
    } else if (a == "--window") {
      o.window = static_cast<unsigned>(number(a, value(), 1, 100000));
    } else if (a == "--connect-timeout") {
      o.connect_timeout = number(a, value(), 0.1, 86400);
    } else if (a == "--drain-timeout") {
      o.drain_timeout = number(a, value(), 0.1, 86400);
    } else if (a == "--no-progress") {
      o.progress = false;
    } else if (a == "--phases") {
      for (const auto part : split(value(), ',')) o.phases.push_back(phase(part));
      if (o.phases.empty()) bad("--phases needs at least one phase");
    } else if (a == "--dialect") {
      o.dialect = value();
      if (o.dialect != "herald" && o.dialect != "nchan") bad("--dialect is herald or nchan");
    } else if (a == "--label") {
      o.label = value();
    } else if (a == "--publish-single") {
      o.publish_single = true;
    } else if (a == "--publish-connections") {
      o.publish_connections = static_cast<unsigned>(number(a, value(), 1, 256));
    } else {
      bad("unknown option " + std::string(a));
    }
  }
  if (o.url.rfind("http://", 0) != 0) bad("--url must start with http://");
  if (o.label.empty()) o.label = o.dialect;
  if (!o.phases.empty() && (!o.server_binary.empty() || o.transports.size() != 1))
    bad("--phases runs one transport (--transports) against --url");
  if (o.dialect == "nchan" && o.phases.empty()) bad("--dialect nchan needs --phases");
  return o;
}

}  // namespace herald::bench
