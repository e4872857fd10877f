#!/usr/bin/env bash
# Cluster benchmark (not part of the test suite): what RabbitMQ and a second node add.
# Starts a private RabbitMQ (tests/integration/rabbitmq_fixture.sh), three Herald
# nodes on it and one node on the embedded broker as the baseline, then runs
# herald_cluster_bench (bench/cluster_bench.cpp):
#  * latency: single messages published on node a at a steady rate, received over
#    SSE and WebSocket on node a and on node b; node b's extra time is taken message
#    by message against node a;
#  * throughput: publishes acknowledged per second (each after RabbitMQ's confirm),
#    single messages and arrays of 100, one and several connections.
#
# Usage: bench/cluster_bench.sh [--messages N] [--rate R] [--seconds S]
#   defaults: 2000 messages at 200/s for latency, 5 s per throughput run.
#   HERALD_BENCH_DUMP=FILE: the cluster latency run also writes one CSV line per message.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
messages=2000 rate=200 seconds=5
while [[ $# -gt 0 ]]; do
  case $1 in
    --messages) messages=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: $0 [--messages N] [--rate R] [--seconds S]" >&2; exit 2 ;;
  esac
done

build=${HERALD_BUILD_DIR:-build}
[[ -f $build/build.ninja ]] || ./scripts/setup
ninja -C "$build" -j"$(nproc)" herald herald_cluster_bench >/dev/null
herald=$root/$build/src/server/herald
bench=$root/$build/tests/herald_cluster_bench
fixture=$root/tests/integration/rabbitmq_fixture.sh

work=$(mktemp -d /tmp/herald-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$fixture" stop "$work/rabbitmq" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

start_node() {  # NAME BROKER: starts a node, prints its port
  local log=$work/herald-$1.log
  "$herald" --listen 127.0.0.1:0 --log-level warn --node-id "$1" --broker "$2" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 400); do
    grep -q 'listening on' "$log" && break
    sleep 0.05
  done
  grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | sed 's/.*://' || { cat "$log" >&2; exit 1; }
}

amqp=$("$fixture" start "$work/rabbitmq")
broker=amqp://guest:guest@127.0.0.1:$amqp/
a=$(start_node a "$broker")
b=$(start_node b "$broker")
c=$(start_node c "$broker")
m=$(start_node m memory)

echo "Herald cluster benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, Debian $(cat /etc/debian_version), $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RabbitMQ $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null), herald $(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
  "3 nodes on RabbitMQ + 1 on the embedded broker, all on this machine"
echo
echo "== RabbitMQ cluster: publish on node a (port $a), receive on a and on b (port $b)"
"$bench" latency "$a" "$a" "$b" --messages "$messages" --rate "$rate"
echo
echo "== Baseline: one node on the embedded broker (port $m)"
HERALD_BENCH_DUMP= "$bench" latency "$m" "$m" --messages "$messages" --rate "$rate"
echo
echo "== Throughput, RabbitMQ cluster"
"$bench" throughput "$a" --seconds "$seconds" --connections 1 --batch 1
"$bench" throughput "$a" "$b" "$c" --seconds "$seconds" --connections 16 --batch 1
"$bench" throughput "$a" --seconds "$seconds" --connections 1 --batch 100
"$bench" throughput "$a" "$b" "$c" --seconds "$seconds" --connections 6 --batch 100
echo
echo "== Throughput, embedded broker (baseline)"
"$bench" throughput "$m" --seconds "$seconds" --connections 1 --batch 1
"$bench" throughput "$m" --seconds "$seconds" --connections 16 --batch 1
"$bench" throughput "$m" --seconds "$seconds" --connections 6 --batch 100
