#!/usr/bin/python3
"""Herald and nginx+nchan side by side, on the same machine in the same run.

For each run and each transport (WebSocket, SSE, long-poll) it starts a fresh Herald
(embedded broker, one event loop) and then a fresh nginx+nchan (one worker), each
pinned to core 0 with taskset, and drives each with herald-bench pinned to core 1:

  fan-out    one channel, N subscribers: the server's memory per idle connection,
             a burst of 64 B and of 1 KiB messages (peak deliveries/s, server CPU per
             delivery), a steady rate at half the server's own peak (latency), for
             nchan also at half Herald's peak (the latency target compares the two
             at the same rate), and a steady rate of long-poll cycles (the same
             offered cycles/s for both, one message per poll);
  channels   N subscribers over 1,000 channels, a burst spread over all of them.

Every phase must lose and duplicate nothing (herald-bench checks per subscriber).
Medians over the runs go into a table with the ratio Herald/nchan and the issue's
targets; every phase of every run goes into a CSV. bench/nchan/compare.sh installs
nginx and nchan first; run that.
"""
import argparse
import csv
import datetime
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so"
TRANSPORTS = ["websocket", "sse", "longpoll"]
SERVERS = ["herald", "nchan"]


def options():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--subscribers", type=int, default=18000, help="N, per transport (default 18000)")
    p.add_argument("--runs", type=int, default=3, help="runs; the table shows medians (default 3)")
    p.add_argument("--transports", default=",".join(TRANSPORTS))
    p.add_argument("--deliveries", type=int, default=150000,
                   help="deliveries each burst aims at: messages = this / subscribers per channel (default 150000)")
    p.add_argument("--steady-seconds", type=float, default=3, help="length of each steady phase (default 3)")
    p.add_argument("--cycle-rate", type=float, default=15000,
                   help="long-poll cycles per second offered to both servers in the cycles phase (default 15000)")
    p.add_argument("--cycle-seconds", type=float, default=6, help="length of the long-poll cycles phase (default 6)")
    p.add_argument("--channels", type=int, default=1000, help="channels of the many-channels workload (default 1000)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 1 run, 400 subscribers, short phases (about a minute)")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench-nchan"),
                   help="folder for the CSVs and the table (default build/bench-nchan)")
    p.add_argument("--herald", default=os.path.join(ROOT, "build", "src", "server", "herald"))
    p.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "herald-bench"))
    p.add_argument("--server-core", default="0")
    p.add_argument("--load-cores", default="1")
    o = p.parse_args()
    if o.quick:
        o.runs, o.subscribers, o.deliveries, o.channels = 1, 400, 12000, 100
        o.steady_seconds, o.cycle_rate, o.cycle_seconds = 1, 2000, 1
    o.transports = [t for t in o.transports.split(",") if t]
    for t in o.transports:
        if t not in TRANSPORTS:
            p.error(f"unknown transport {t}")
    return o


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


class Server:
    """A fresh server pinned to one core: `pid` is the process whose memory and CPU count."""

    def __init__(self, kind, o, scratch):
        self.kind, self.o = kind, o
        self.dir = tempfile.mkdtemp(prefix=f"{kind}-", dir=scratch)
        self.log = open(os.path.join(self.dir, "output.log"), "w+")
        if kind == "herald":
            self.start_herald()
        else:
            self.start_nginx()

    def start_herald(self):
        # One event loop on its one core, like nchan's one worker; history as deep as nchan's buffer.
        cmd = ["taskset", "-c", self.o.server_core, self.o.herald, "--listen", "127.0.0.1:0", "--threads", "1",
               "--history", "5000", "--log-level", "warn"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        end = time.time() + 10
        while time.time() < end:
            self.log.seek(0)
            m = re.search(r"listening on http://([0-9.]+):(\d+)/", self.log.read())
            if m:
                self.port = int(m.group(2))
                break
            if self.proc.poll() is not None:
                raise RuntimeError("herald exited: " + self.output())
            time.sleep(0.05)
        else:
            raise RuntimeError("herald printed no 'listening on' line")
        self.pid = self.proc.pid  # taskset execs the server in its own process
        wait_port(self.port, self.proc)

    def start_nginx(self):
        self.port = free_port()
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nofile = hard if hard != resource.RLIM_INFINITY else 65536
        with open(os.path.join(HERE, "nginx.conf.template")) as f:
            conf = f.read()
        for key, value in {"NCHAN_MODULE": NCHAN_MODULE, "NOFILE": nofile, "CONNECTIONS": nofile - 32,
                           "DIR": self.dir, "PORT": self.port}.items():
            conf = conf.replace(f"@{key}@", str(value))
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(conf)
        cmd = ["taskset", "-c", self.o.server_core, "nginx", "-p", self.dir, "-c",
               os.path.join(self.dir, "nginx.conf"), "-g", "daemon off;"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)
        # nchan's work happens in the worker: its memory and CPU are what count (the
        # master only starts it). The worker's RSS includes the shared memory it touched.
        end = time.time() + 5
        while time.time() < end:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                children = f.read().split()
            if children:
                self.pid = int(children[0])
                return
            time.sleep(0.05)
        raise RuntimeError("nginx started no worker")

    def output(self):
        self.log.seek(0)
        return self.log.read()[-2000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def bench(o, server, transport, channels, phases, csv_path):
    """Runs herald-bench's phased mode; returns (exit status, rows of its CSV)."""
    procs = max(2, -(-o.subscribers // 9000))
    cmd = ["taskset", "-c", o.load_cores, o.bench, "--url", f"http://127.0.0.1:{server.port}",
           "--server-pid", str(server.pid), "--dialect", server.kind, "--transports", transport,
           "--subscribers", str(o.subscribers), "--channels", str(channels), "--procs", str(procs),
           "--publish-single", "--phases", ",".join(phases), "--csv", csv_path, "--no-progress"]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(done.stdout)
    sys.stdout.flush()
    rows = []
    if os.path.exists(csv_path):
        with open(csv_path, newline="") as f:
            rows = list(csv.DictReader(f))
    return done.returncode, rows


def number(row, key):
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        return None


def run_cell(o, run, transport, kind, herald_peak, scratch):
    """One server, one transport: the fan-out crowd, then the many-channels crowd."""
    server = Server(kind, o, scratch)
    rows, failures = [], []
    try:
        burst = max(3, o.deliveries // o.subscribers)
        cycles = max(0.5, o.cycle_rate / o.subscribers)
        phases = [f"burst-64=burst:64:{burst}", f"burst-1k=burst:1024:{burst}",
                  f"half-peak=steady:64:{o.steady_seconds}:0.5peak"]
        if kind == "nchan" and herald_peak:
            phases.append(f"herald-half-peak=steady:64:{o.steady_seconds}:{herald_peak / 2:.3f}")
        if transport == "longpoll":
            phases.append(f"cycles=steady:64:{o.cycle_seconds}:{cycles:.3f}")
        base = os.path.join(o.out, f"run{run}-{transport}-{kind}")
        status, fan = bench(o, server, transport, 1, phases, base + "-fanout.csv")
        if status != 0:
            failures.append(f"run {run} {kind} {transport} fan-out: herald-bench exited {status}")
        per_channel = max(2, o.deliveries // o.subscribers)  # each subscriber gets this many
        status, many = bench(o, server, transport, o.channels,
                             [f"channels=burst:64:{per_channel * o.channels}"], base + "-channels.csv")
        if status != 0:
            failures.append(f"run {run} {kind} {transport} many channels: herald-bench exited {status}")
        for r in many:  # its crowd's memory reading comes after the fan-out crowd left
            if r["phase"] == "idle":
                r["phase"] = "channels-idle"
        rows = fan + many
    finally:
        server.stop()
    for r in rows:
        r["run"] = str(run)
    return rows, failures


# What the table shows: (label, phase, column, decimals).
METRICS = [
    ("memory per idle connection, KiB", "idle", "kib_per_conn", 2),
    ("burst 64 B: deliveries/s", "burst-64", "deliveries_per_s", 0),
    ("burst 64 B: server CPU per delivery, µs", "burst-64", "cpu_us_per_delivery", 2),
    ("burst 64 B: of which user space, µs", "burst-64", "user_us_per_delivery", 2),
    ("burst 1 KiB: deliveries/s", "burst-1k", "deliveries_per_s", 0),
    ("burst 1 KiB: server CPU per delivery, µs", "burst-1k", "cpu_us_per_delivery", 2),
    ("steady at half own peak: messages/s", "half-peak", "rate", 1),
    ("steady at half own peak: CPU per delivery, µs", "half-peak", "cpu_us_per_delivery", 2),
    ("steady at half own peak: p50 ms", "half-peak", "p50_ms", 2),
    ("steady at half own peak: p99 ms", "half-peak", "p99_ms", 2),
    ("steady at half own peak: p99.9 ms", "half-peak", "p999_ms", 2),
    ("at half Herald's peak: p99 ms", "target", "p99_ms", 2),
    ("at half Herald's peak: p99.9 ms", "target", "p999_ms", 2),
    ("1,000 channels burst: deliveries/s", "channels", "deliveries_per_s", 0),
    ("1,000 channels burst: CPU per delivery, µs", "channels", "cpu_us_per_delivery", 2),
    ("1,000 channels burst: p99 ms", "channels", "p99_ms", 2),
    ("long-poll burst 64 B: cycles/s", "burst-64", "cycles_per_s", 0),
    ("long-poll cycles phase: cycles/s", "cycles", "cycles_per_s", 0),
    ("long-poll cycles phase: CPU per cycle, µs", "cycles", "cpu_us_per_cycle", 2),
    ("long-poll cycles phase: of which user space, µs", "cycles", "user_us_per_cycle", 2),
]


def phase_rows(rows, server, transport, phase):
    if phase == "target":  # Herald's own half-peak run is already at its own half peak
        phase = "half-peak" if server == "herald" else "herald-half-peak"
    return [r for r in rows if r["server"] == server and r["transport"] == transport and r["phase"] == phase]


def median(rows, column):
    values = [v for v in (number(r, column) for r in rows) if v is not None]
    return statistics.median(values) if values else None


def fmt(v, decimals):
    if v is None:
        return "–"
    return f"{v:,.{decimals}f}"


def summarize(o, rows):
    lines, summary = [], []
    lines.append("| transport | metric | Herald | nchan | Herald/nchan |")
    lines.append("|---|---|---|---|---|")
    medians = {}
    for transport in o.transports:
        for label, phase, column, decimals in METRICS:
            if label.startswith("long-poll") and transport != "longpoll":
                continue
            h = median(phase_rows(rows, "herald", transport, phase), column)
            n = median(phase_rows(rows, "nchan", transport, phase), column)
            medians[(transport, phase, column)] = (h, n)
            ratio = f"{h / n:.2f}" if h is not None and n else "–"
            lines.append(f"| {transport} | {label} | {fmt(h, decimals)} | {fmt(n, decimals)} | {ratio} |")
            summary.append({"transport": transport, "metric": label, "phase": phase, "column": column,
                            "herald": "" if h is None else h, "nchan": "" if n is None else n,
                            "ratio": ratio if ratio != "–" else ""})
    return lines, summary, medians


def targets(o, medians):
    """The issue's targets, measured against them: (text, met)."""
    out = []

    def check(text, h, n, ok):
        if h is None or n is None:
            out.append((f"{text}: not measured", False))
        elif h <= 0 or n <= 0:  # CPU below /proc's 10 ms resolution: a longer run is needed
            out.append((f"{text}: too small to measure (Herald {h:.2f}, nchan {n:.2f})", False))
        else:
            out.append((f"{text}: Herald {h:.2f}, nchan {n:.2f} (ratio {h / n:.2f})", ok(h, n)))

    for t in [t for t in ("websocket", "sse") if t in o.transports]:
        h, n = medians[(t, "idle", "kib_per_conn")]
        check(f"{t} memory per idle connection ≤ 2 KiB and ≤ 1/4 nchan", h, n, lambda h, n: h <= 2 and h <= n / 4)
        h, n = medians[(t, "burst-64", "cpu_us_per_delivery")]
        check(f"{t} CPU per delivery (burst 64 B) ≤ 1/3 nchan", h, n, lambda h, n: h <= n / 3)
    if "longpoll" in o.transports:
        h, n = medians[("longpoll", "cycles", "cpu_us_per_cycle")]
        check("long-poll CPU per cycle ≤ 1/2 nchan", h, n, lambda h, n: h <= n / 2)
    # For reference, not a target: the part of that CPU spent in the servers' own code.
    for t in [t for t in ("websocket", "sse") if t in o.transports]:
        h, n = medians[(t, "burst-64", "user_us_per_delivery")]
        check(f"(reference) {t} user-space CPU per delivery (burst 64 B) ≤ 1/3 nchan", h, n, lambda h, n: h <= n / 3)
    if "longpoll" in o.transports:
        h, n = medians[("longpoll", "cycles", "user_us_per_cycle")]
        check("(reference) long-poll user-space CPU per cycle ≤ 1/2 nchan", h, n, lambda h, n: h <= n / 2)
    for t in o.transports:
        h, n = medians[(t, "target", "p99_ms")]
        check(f"{t} p99 at {o.subscribers:,} subscribers and half Herald's peak ≤ 50 ms and below nchan", h, n,
              lambda h, n: h <= 50 and h < n)
    return out


def machine():
    load = open("/proc/loadavg").read().split()[:3]
    try:
        distro = re.search(r'PRETTY_NAME="([^"]+)"', open("/etc/os-release").read()).group(1)
    except (OSError, AttributeError):
        distro = platform.platform()
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    nchan = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libnginx-mod-nchan"], capture_output=True,
                           text=True).stdout.strip()
    return (f"{os.cpu_count()} cores, {distro}, {nginx.replace('nginx version: ', '')}, nchan {nchan or '?'}, "
            f"load average {' '.join(load)} at the end")


def main():
    o = options()
    for path in (o.herald, o.bench):
        if not os.access(path, os.X_OK):
            sys.exit(f"compare: {path} is missing: build first (./scripts/setup)")
    if not os.path.exists(NCHAN_MODULE) or not shutil.which("nginx"):
        sys.exit(f"compare: nginx or {NCHAN_MODULE} is missing: run bench/nchan/compare.sh, which installs them")
    if not shutil.which("taskset"):
        sys.exit("compare: taskset is missing (util-linux)")
    os.makedirs(o.out, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="herald-vs-nchan-")
    started = datetime.datetime.now(datetime.timezone.utc)
    rows, failures = [], []
    try:
        for run in range(1, o.runs + 1):
            # Alternate which transport goes first, so slow drift in the machine's load
            # does not always fall on the same one; Herald goes first in each pair
            # because nchan's latency target runs at half Herald's peak of that pair.
            order = o.transports[(run - 1) % len(o.transports):] + o.transports[:(run - 1) % len(o.transports)]
            for transport in order:
                herald_peak = None
                for kind in SERVERS:
                    got, failed = run_cell(o, run, transport, kind, herald_peak, scratch)
                    rows += got
                    failures += failed
                    if kind == "herald":
                        peak = [r for r in got if r["phase"] == "burst-64"]
                        if peak and number(peak[0], "deliveries_per_s"):
                            herald_peak = number(peak[0], "deliveries_per_s") / o.subscribers
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    elapsed = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()

    columns = ["run"] + (list(rows[0].keys())[:-1] if rows else [])
    with open(os.path.join(o.out, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    lines, summary, medians = summarize(o, rows)
    with open(os.path.join(o.out, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["transport", "metric", "phase", "column", "herald", "nchan", "ratio"])
        w.writeheader()
        w.writerows(summary)
    unclean = [r for r in rows if r.get("clean") != "1"]
    header = [f"Herald vs nginx+nchan, {started:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} min: "
              f"{o.subscribers:,} subscribers per transport, medians of {o.runs} run{'s' if o.runs > 1 else ''}; "
              f"servers on core {o.server_core}, load on core {o.load_cores}; memory and CPU of Herald's process "
              f"and of nginx's worker process; {machine()}", ""]
    report = header + lines + ["", "Targets:"]
    for text, ok in targets(o, medians):
        report.append(f"- [{'met' if ok else 'MISSED'}] {text}")
    report.append("")
    report.append(f"Every phase clean (nothing lost or duplicated): {'yes' if not unclean and not failures else 'NO'}"
                  f" ({len(rows)} phases)")
    text = "\n".join(report) + "\n"
    with open(os.path.join(o.out, "table.md"), "w") as f:
        f.write(text)
    print("\n" + text)
    print(f"CSV: {os.path.join(o.out, 'runs.csv')} (every phase), {os.path.join(o.out, 'summary.csv')} (medians)")
    if failures or unclean or not rows:
        for f in failures:
            print("FAILED:", f)
        for r in unclean:
            print(f"NOT CLEAN: run {r['run']} {r['server']} {r['transport']} {r['phase']}: lost {r['lost']}, "
                  f"duplicated {r['duplicated']}, failed {r['failed']}; {r.get('error', '')}")
        sys.exit(1)


if __name__ == "__main__":
    main()
