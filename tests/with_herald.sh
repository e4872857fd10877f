#!/usr/bin/env bash
# Runs a command against a fresh herald on a free loopback port:
#   with_herald.sh HERALD_BINARY [herald flags...] -- COMMAND [ARGS...]
# The command sees HERALD_URL=http://127.0.0.1:PORT and HERALD_PID; herald is
# stopped afterwards and the command's exit status is returned.
set -euo pipefail
bin=$1; shift
flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do flags+=("$1"); shift; done
shift
out=$(mktemp)
"$bin" --listen 127.0.0.1:0 --log-level warn "${flags[@]}" >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q 'listening on' "$out" && break
  sleep 0.05
done
port=$(grep -o 'http://127.0.0.1:[0-9]*' "$out" | head -1 | sed 's/.*://')
[ -n "$port" ] || { echo "herald did not start"; cat "$out"; exit 1; }
export HERALD_URL="http://127.0.0.1:$port" HERALD_PID=$pid
"$@"
