#!/usr/bin/env bash
# A short herald-bench run against a fresh herald, two subscriber processes, all three
# transports: herald-bench must exit 0 (nothing lost, duplicated or failed), write a
# CSV with a header and one row per transport, and an SVG that parses as XML. Then a
# run the server cannot serve in full must exit 1.
#   bench_smoke.sh HERALD_BINARY HERALD_BENCH_BINARY OUT_DIR
set -euo pipefail
herald=$1
bench=$2
out=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
rm -f "$out/bench.csv" "$out/bench.svg"

"$root/tests/with_herald.sh" "$herald" -- bash -c '
  "$0" --url "$HERALD_URL" --server-pid "$HERALD_PID" --transports websocket,sse,longpoll \
       --subscribers 300 --channels 3 --messages 300 --rate 600 --size 64 --procs 2 \
       --csv "$1/bench.csv" --svg "$1/bench.svg" --no-progress' "$bench" "$out"

/usr/bin/python3 - "$out/bench.csv" "$out/bench.svg" <<'EOF'
import csv, sys
import xml.etree.ElementTree as ET

csv_path, svg_path = sys.argv[1], sys.argv[2]
with open(csv_path, newline="") as f:
    rows = list(csv.reader(f))
header, body = rows[0], rows[1:]
for column in ("transport", "delivered", "expected", "lost", "duplicated", "p50_ms", "p99_ms",
               "wire_bytes_per_msg", "server_kib_per_conn", "deliveries_per_s"):
    assert column in header, f"CSV header lacks {column}: {header}"
assert all(len(r) == len(header) for r in body), "CSV rows and header differ in length"
records = [dict(zip(header, r)) for r in body]
assert [r["transport"] for r in records] == ["websocket", "sse", "longpoll"], records
for r in records:
    name = r["transport"]
    assert int(r["lost"]) == 0 and int(r["duplicated"]) == 0, f"{name}: {r}"
    assert int(r["delivered"]) == int(r["expected"]) == 300 * 300 // 3, f"{name}: {r}"
    assert 0 <= float(r["p50_ms"]) <= float(r["p99_ms"]), f"{name}: {r}"
    assert float(r["wire_bytes_per_msg"]) > 64, f"{name}: a message cannot take fewer bytes than its data: {r}"
    assert r["server_kib_per_conn"] != "", f"{name}: server memory was not read: {r}"

ns = {"svg": "http://www.w3.org/2000/svg"}
svg = ET.parse(svg_path).getroot()
assert svg.tag == "{http://www.w3.org/2000/svg}svg", svg.tag
assert len(svg.findall("svg:polyline", ns)) == 3, "one latency line per transport"
texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
for name in ("websocket", "sse", "longpoll", "Deliveries per second"):
    assert name in texts, f"SVG lacks {name!r}"
print(f"bench smoke: {len(records)} transports clean; CSV and SVG well formed")
EOF

# A server that refuses all but 20 connections: subscribers fail, their messages are
# lost, and herald-bench says so with its exit status.
set +e
"$root/tests/with_herald.sh" "$herald" --max-connections 20 -- bash -c '
  "$0" --url "$HERALD_URL" --transports sse --subscribers 40 --channels 2 --messages 10 --rate 100 \
       --drain-timeout 1 --no-progress' "$bench" >"$out/bench_refused.txt" 2>&1
status=$?
set -e
if [ "$status" != 1 ] || ! grep -q "NOT CLEAN" "$out/bench_refused.txt"; then
  echo "herald-bench should exit 1 and report NOT CLEAN when subscribers are refused (exit $status):"
  cat "$out/bench_refused.txt"
  exit 1
fi
echo "bench smoke: a run with refused subscribers exits 1"
