#!/usr/bin/env bash
# bench_nchan_smoke: the side-by-side comparison in --quick mode must run from the
# build, install nchan if it is missing (and fail if it cannot), lose and duplicate
# nothing on either server, and fill every cell of its table for both servers.
#   smoke.sh OUT_DIR
set -euo pipefail
out=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$out"
"$root/bench/nchan/compare.sh" --quick --out "$out"

/usr/bin/python3 - "$out" <<'PY'
import csv, os, sys
out = sys.argv[1]
with open(os.path.join(out, "runs.csv"), newline="") as f:
    runs = list(csv.DictReader(f))
with open(os.path.join(out, "summary.csv"), newline="") as f:
    summary = list(csv.DictReader(f))
for server in ("herald", "nchan"):
    for transport in ("websocket", "sse", "longpoll"):
        mine = [r for r in runs if r["server"] == server and r["transport"] == transport]
        phases = {r["phase"] for r in mine}
        want = {"idle", "burst-64", "burst-1k", "half-peak", "channels-idle", "channels"}
        if server == "nchan":
            want.add("herald-half-peak")
        if transport == "longpoll":
            want.add("cycles")
        assert want <= phases, f"{server} {transport}: phases {sorted(phases)} lack {sorted(want - phases)}"
        for r in mine:
            assert r["clean"] == "1" and r["lost"] == "0" and r["duplicated"] == "0", r
            assert r["delivered"] == r["expected"], r
            if r["phase"] not in ("idle", "channels-idle"):
                assert int(r["delivered"]) > 0 and float(r["cpu_s"]) >= 0, r
assert summary, "summary.csv is empty"
for row in summary:
    for server in ("herald", "nchan"):
        assert row[server] != "", f"{server} has no value for {row['transport']} {row['metric']}"
        assert float(row[server]) >= 0, row
print(f"bench_nchan_smoke: {len(runs)} phases clean on both servers; {len(summary)} table cells filled")
PY
