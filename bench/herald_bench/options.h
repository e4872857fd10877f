#pragma once
// herald-bench's command line.
#include <cstdint>
#include <string>
#include <vector>

namespace herald::bench {

// One workload of a phased run (--phases), on the crowd the run connected.
struct PhaseSpec {
  std::string name;   // as given on the command line unless named NAME=...
  bool burst = true;  // burst: as fast as acknowledged; steady: at a rate
  size_t size = 64;
  uint64_t messages = 0;     // burst
  double seconds = 0;        // steady
  double rate = 0;           // steady: messages per second, or
  double peak_fraction = 0;  // steady: this fraction of the last burst's peak
};

struct Options {
  std::string url = "http://127.0.0.1:8080";
  std::vector<std::string> transports = {"websocket", "sse", "longpoll"};
  uint64_t subscribers = 1000;  // per transport
  uint32_t channels = 10;
  double rate = 1000;  // messages per second, all channels together
  uint64_t messages = 5000;
  size_t size = 100;  // bytes of each message's data
  int procs = 1;
  int server_pid = 0;
  std::string server_binary;  // start a fresh herald per transport instead of using --url
  std::vector<std::string> server_args;
  std::string csv;
  std::string svg;
  unsigned window = 100;  // handshakes in flight, over all processes
  double connect_timeout = 60;
  double drain_timeout = 10;
  bool progress = true;
  // Phased run: the server speaks this dialect (herald or nchan); one transport, one
  // crowd, these workloads in order; the server is --url, measured at --server-pid.
  std::string dialect = "herald";
  std::string label;  // the server's name in the table and CSV (default: the dialect)
  std::vector<PhaseSpec> phases;
  bool publish_single = false;  // one message per request (always so for nchan)
  unsigned publish_connections = 4;
};

// Parses argv; prints usage and exits on --help or a bad option.
Options parse_options(int argc, char** argv);

}  // namespace herald::bench
