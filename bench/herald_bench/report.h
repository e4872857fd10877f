#pragma once
// What one transport's run measured, and the three ways it is shown: a table on
// stdout, CSV, and an SVG chart written by hand.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "bench/herald_bench/histogram.h"
#include "bench/herald_bench/options.h"

namespace herald::bench {

struct TransportResult {
  std::string transport;
  // A phased run (phases.h) fills these too: which server, which phase, its messages.
  std::string server;
  std::string phase;
  size_t size = 0;
  uint64_t messages = 0;
  double rate = 0;  // messages per second asked for; 0: as fast as acknowledged
  uint64_t subscribers = 0;
  uint64_t connected = 0;
  uint64_t failed = 0;
  double connect_seconds = 0;
  uint64_t expected = 0;  // deliveries owed: each message times the subscribers of its channel
  uint64_t delivered = 0;
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t misrouted = 0;
  uint64_t publish_failed = 0;
  double publish_seconds = 0;  // first to last publish
  double deliver_seconds = 0;  // first publish to last delivery
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  uint64_t cycles = 0;           // long-poll responses read
  int64_t last_delivery_us = 0;  // wall clock
  double cpu_seconds = -1;       // server CPU time over the phase, user + system; -1: not measured
  double cpu_user_seconds = -1;  // of which in user space
  long rss_before_kib = -1;      // -1: not measured (no --server-pid)
  long rss_after_kib = -1;
  Histogram latency;
  std::string error;  // the first problem any process saw

  [[nodiscard]] double connect_rate() const { return connect_seconds > 0 ? connected / connect_seconds : 0; }
  [[nodiscard]] double deliveries_per_second() const { return deliver_seconds > 0 ? delivered / deliver_seconds : 0; }
  [[nodiscard]] double wire_bytes_per_message() const { return delivered ? double(rx_bytes) / delivered : 0; }
  [[nodiscard]] double up_bytes_per_message() const { return delivered ? double(tx_bytes) / delivered : 0; }
  [[nodiscard]] double server_kib_per_connection() const;
  [[nodiscard]] bool clean() const {
    return lost == 0 && duplicated == 0 && misrouted == 0 && failed == 0 && publish_failed == 0 &&
           delivered == expected;
  }
};

// 1234567 -> "1,234,567" for tables and progress lines.
std::string grouped(uint64_t v);
std::string workload_line(const Options& o);
void print_table(std::ostream& out, const std::vector<TransportResult>& results);
void write_csv(std::ostream& out, const Options& o, const std::vector<TransportResult>& results);
void write_svg(std::ostream& out, const Options& o, const std::vector<TransportResult>& results);

}  // namespace herald::bench
