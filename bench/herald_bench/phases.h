#pragma once
// A phased run: one transport, one crowd of subscribers connected once, then the
// --phases workloads in order (bursts, steady rates), against Herald or nginx+nchan.
// Per phase it reports deliveries, losses and duplicates, latency, long-poll cycles
// and the server's CPU time from /proc/PID/stat (so a load generator that saturates
// first does not hide the server's cost); before the first, the server's memory
// per idle connection. bench/nchan/compare.py drives it for both servers.
#include "bench/herald_bench/crowd.h"
#include "bench/herald_bench/options.h"

namespace herald::bench {

// Prints a table, writes --csv; returns the exit status (1 if any phase lost,
// duplicated or failed anything).
int run_phases(const Options& o, const Target& target, Crowd& crowd);

}  // namespace herald::bench
