#pragma once
// A worker process: many subscribers on one epoll loop, driven by the coordinator
// over a socket with one-line commands.
//
//   coordinator -> worker
//     C <transport> <first> <count> <channels> <prefix> <window> <ip> <port> [herald|nchan]
//                                                                 connect subscribers first..first+count-1
//     M                                                           start measuring (bytes, latency)
//     S <messages>                                                report, start the next phase's counts
//     F <messages>                                                report and close everyone
//   worker -> coordinator
//     P <live> <failed> <delivered>                               every 100 ms while connected
//     R <delivered> <lost> <dup> <misrouted> <failed> <rx> <tx> <last_us> <poll cycles> <histogram>
//     E <text>                                                    the first error seen, once
//
// Subscriber i listens to channel <prefix><i % channels>; message k goes to channel
// k % channels, so each subscriber knows which indexes to expect and in what order.
#include <netinet/in.h>

namespace herald::bench {

struct WorkerConfig {
  in_addr_t source = 0;  // bind connections to this address (network order); 0: let the kernel pick
  int poll_timeout_s = 20;
};

// Runs until the coordinator closes `control`; returns the process exit status.
int run_worker(const WorkerConfig& config, int control);

}  // namespace herald::bench
