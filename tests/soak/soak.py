#!/usr/bin/python3
"""Soak test: churn against a real herald for a given time, watching for leaks and loss.

    tests/soak/soak.py --duration 1800            # the 30-minute soak (README, "Soak")
    tests/soak/soak.py --duration 120             # ctest soak_short

Starts build/src/server/herald (or --herald) on a free loopback port and runs, all at
once until the duration ends:
  - a publisher: POST /api/publish at a steady --rate, round robin over the checked
    channels, each message numbered per channel; plus large messages on a bulk channel;
  - checkers, on every transport (WebSocket, SSE, long-poll) and channel: they read for
    a random while, disconnect (cleanly or abruptly), resume from their last cursor,
    and require the numbers they see to be exactly consecutive (no loss, no duplicate);
  - churners: connect on a random transport, maybe read, close abruptly, send garbage
    or half a request, over and over;
  - slow readers: subscribe to the bulk channel with a tiny receive buffer and never
    read, so the server must drop them (its outbox is bounded) without harm to others.
Every --interval seconds it prints a row: server RSS and open descriptors (from /proc),
the server's connection gauges and error counters (/metrics), and the clients' counts.

Exit status is non-zero when: a checker saw a gap or a duplicate or did not catch up to
the last message after the churn; an unexpected client-side error happened (an answer
other than the documented ones); descriptors did not return to the baseline once every
client left; RSS grew by more than --rss-growth-mb between the end of the warm-up
(history full) and the end of the churn.
"""
import argparse
import asyncio
import json
import os
import random
import re
import socket
import subprocess
import sys
import time

import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Stats:
    def __init__(self):
        self.received = 0        # checked messages
        self.gaps = 0
        self.dups = 0
        self.resumes = 0
        self.churn = 0           # churn connections made
        self.unexpected = []     # descriptions of unexpected client-side errors
        self.published = 0

    def error(self, what):
        if len(self.unexpected) < 50:
            self.unexpected.append(what)
        else:
            self.unexpected[-1] = "(more errors left out)"


async def http_request(host, port, method, target, body=b"", headers=None, timeout=10.0):
    """One HTTP/1.1 request on a fresh connection: (status, headers dict, body bytes)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        for k, v in (headers or {}).items():
            head += f"{k}: {v}\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        return await asyncio.wait_for(read_response(reader), timeout)
    finally:
        writer.close()


async def read_response(reader):
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before a response")
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = b""
    return status, headers, body


class Publisher:
    """Keeps one keep-alive connection and publishes numbered messages at a steady rate."""

    def __init__(self, host, port, key, channels, rate, stats):
        self.host, self.port, self.key = host, port, key
        self.channels, self.rate, self.stats = channels, rate, stats
        self.last = {c: 0 for c in channels}   # last number published per channel
        self.reader = self.writer = None

    async def publish(self, items):
        body = json.dumps(items).encode()
        for attempt in range(3):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                self.writer.write(
                    (f"POST /api/publish HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.key}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
                await self.writer.drain()
                status, headers, answer = await asyncio.wait_for(read_response(self.reader), 10)
                if status != 200:
                    raise RuntimeError(f"publish answered {status}: {answer[:200]!r}")
                if headers.get("connection", "").lower() == "close":
                    self.writer.close()
                    self.writer = None
                return
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
                if self.writer:
                    self.writer.close()
                self.writer = None
                if attempt == 2:
                    raise RuntimeError(f"publish failed three times: {e!r}")

    async def run(self, stop, bulk_channel, bulk_size):
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        i = 0
        bulk = "x" * bulk_size
        while not stop.is_set():
            ch = self.channels[i % len(self.channels)]
            n = self.last[ch] + 1
            items = [{"channel": ch, "data": {"n": n}}]
            if i % 2 == 0:
                items.append({"channel": bulk_channel, "data": {"pad": bulk}})
            try:
                await self.publish(items)
                self.last[ch] = n
                self.stats.published += 1
            except Exception as e:  # noqa: BLE001 - reported and counted
                self.stats.error(f"publisher: {e}")
                await asyncio.sleep(0.5)
            i += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if self.writer:
            self.writer.close()
            self.writer = None


class Checker:
    """Follows one channel on one transport with reconnects; numbers must be consecutive."""

    def __init__(self, transport, host, port, channel, stats, rng):
        self.transport, self.host, self.port, self.channel = transport, host, port, channel
        self.stats, self.rng = stats, rng
        self.cursor = None   # resume point
        self.last_n = None   # last number seen

    def name(self):
        return f"{self.transport} checker on {self.channel}"

    def take(self, envelope):
        n = envelope["data"]["n"]
        if self.last_n is not None:
            if n <= self.last_n:
                self.stats.dups += 1
                self.stats.error(f"{self.name()}: duplicate {n} after {self.last_n}")
            elif n != self.last_n + 1:
                self.stats.gaps += 1
                self.stats.error(f"{self.name()}: gap, {n} after {self.last_n}")
        if self.last_n is None or n > self.last_n:
            self.last_n = n
        self.cursor = envelope["id"]
        self.stats.received += 1

    def resumed(self, recovered):
        if self.cursor is not None:
            self.stats.resumes += 1
            if not recovered:
                self.stats.gaps += 1
                self.stats.error(f"{self.name()}: resume from {self.cursor} not recovered")

    async def run(self, stop, hold=(1.0, 6.0)):
        while not stop.is_set():
            try:
                session = self.rng.uniform(*hold)
                await asyncio.wait_for(getattr(self, "_" + self.transport)(session), session + 15)
            except asyncio.TimeoutError:
                self.stats.error(f"{self.name()}: a session hung")
            except Exception as e:  # noqa: BLE001 - reported and counted
                self.stats.error(f"{self.name()}: {e!r}")
                await asyncio.sleep(0.5)

    async def catch_up(self, final_n, deadline):
        """After the churn: read until the last published number is seen."""
        while (self.last_n or 0) < final_n and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(getattr(self, "_" + self.transport)(1.0), 16)
            except Exception as e:  # noqa: BLE001
                self.stats.error(f"{self.name()} catching up: {e!r}")
                await asyncio.sleep(0.2)
        if (self.last_n or 0) != final_n:
            self.stats.gaps += 1
            self.stats.error(f"{self.name()}: ended at {self.last_n}, the last published was {final_n}")

    def query(self):
        q = f"channel={self.channel}"
        return q + (f"&since={self.cursor}" if self.cursor else "")

    async def _ws(self, seconds):
        async with websockets.connect(f"ws://{self.host}:{self.port}/ws?{self.query()}",
                                      close_timeout=2, ping_interval=None) as ws:
            end = time.monotonic() + seconds
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    break
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), left))
                except asyncio.TimeoutError:
                    break
                if frame.get("op") == "subscribed":
                    self.resumed(frame["recovered"])
                    if self.cursor is None:
                        self.cursor = frame["cursor"]
                elif frame.get("op") == "message":
                    self.take(frame)
                else:
                    self.stats.error(f"{self.name()}: unexpected frame {frame}")
            if self.rng.random() < 0.3:  # sometimes just drop the TCP connection
                ws.transport.abort()

    async def _sse(self, seconds):
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(f"GET /sse?{self.query()} HTTP/1.1\r\nHost: {self.host}\r\n"
                         f"Accept: text/event-stream\r\n\r\n".encode())
            status, headers, _ = await asyncio.wait_for(read_response(reader), 10)
            if status != 200:
                raise RuntimeError(f"/sse answered {status}")
            end = time.monotonic() + seconds
            buf = b""
            while time.monotonic() < end:
                try:
                    size_line = await asyncio.wait_for(reader.readline(), end - time.monotonic())
                except asyncio.TimeoutError:
                    break
                if not size_line:
                    raise ConnectionError("the SSE stream ended")
                size = int(size_line.strip() or b"0", 16)
                chunk = await reader.readexactly(size + 2)
                buf += chunk[:-2]
                while b"\n\n" in buf:
                    event, buf = buf.split(b"\n\n", 1)
                    self.sse_event(event.decode())
        finally:
            if self.rng.random() < 0.3:
                writer.transport.abort()
            else:
                writer.close()

    def sse_event(self, text):
        fields = {}
        for line in text.split("\n"):
            if line.startswith(":") or not line:
                continue
            k, _, v = line.partition(": ")
            fields[k] = v
        kind = fields.get("event")
        if kind == "subscribed":
            data = json.loads(fields["data"])
            self.resumed(data["recovered"])
            if self.cursor is None:
                self.cursor = data["cursor"]
        elif kind == "message":
            self.take(json.loads(fields["data"]))
        elif kind is not None:
            self.stats.error(f"{self.name()}: unexpected event {text!r}")

    async def _poll(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            timeout = self.rng.choice([0, 1, 2])
            status, _, body = await http_request(self.host, self.port, "GET",
                                                 f"/poll?{self.query()}&timeout={timeout}", timeout=timeout + 10)
            if status != 200:
                raise RuntimeError(f"/poll answered {status}: {body[:200]!r}")
            answer = json.loads(body)
            if self.cursor is not None and not answer["recovered"]:
                self.resumed(False)
            for m in answer["messages"]:
                self.take(m)
            self.cursor = answer["cursor"]
        self.stats.resumes += 1


async def churn(host, port, channels, stop, stats, rng):
    """Short-lived connections of every kind; only answers outside the documented ones count."""
    while not stop.is_set():
        kind = rng.choice(["ws", "sse", "poll", "garbage", "half", "bad_channel", "ws_commands"])
        ch = rng.choice(channels)
        stats.churn += 1
        try:
            if kind == "ws":
                async with websockets.connect(f"ws://{host}:{port}/ws?channel={ch}", ping_interval=None,
                                              close_timeout=1) as ws:
                    await asyncio.sleep(rng.uniform(0, 0.5))
                    if rng.random() < 0.5:
                        ws.transport.abort()
            elif kind == "ws_commands":
                # A good command and two bad ones: each gets its own answer, the bad
                # ones an error frame, and the connection stays up.
                async with websockets.connect(f"ws://{host}:{port}/ws", ping_interval=None, close_timeout=1) as ws:
                    await ws.send(json.dumps({"op": "subscribe", "channel": ch}))
                    await ws.send("not json")
                    await ws.send(json.dumps({"op": "subscribe", "channel": "bad name"}))
                    answers = []
                    while len(answers) < 3:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                        if frame.get("op") != "message":
                            answers.append(frame["op"] + ":" + frame.get("code", ""))
                    if answers != ["subscribed:", "error:invalid_json", "error:invalid_channel"]:
                        stats.error(f"churn ws_commands: unexpected answers {answers}")
            elif kind in ("sse", "poll"):
                reader, writer = await asyncio.open_connection(host, port)
                path = "/sse" if kind == "sse" else "/poll"
                writer.write(f"GET {path}?channel={ch}&timeout=5 HTTP/1.1\r\nHost: h\r\n\r\n".encode())
                await writer.drain()
                await asyncio.sleep(rng.uniform(0, 0.5))
                await asyncio.wait_for(reader.read(1024), 6)
                writer.transport.abort()
            elif kind == "bad_channel":
                status, _, _ = await http_request(host, port, "GET", "/sse?channel=no%20spaces")
                if status != 400:
                    stats.error(f"churn: a bad channel got {status}, not 400")
            else:
                reader, writer = await asyncio.open_connection(host, port)
                if kind == "garbage":
                    writer.write(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) + b"\r\n\r\n")
                else:
                    writer.write(b"GET /sse?channel=" + ch.encode() + b" HTTP/1.1\r\nHost:")
                await writer.drain()
                await asyncio.sleep(rng.uniform(0, 0.3))
                writer.transport.abort()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
            # The server may close a garbage connection first; anything else is unexpected.
            if kind not in ("garbage", "half"):
                stats.error(f"churn {kind}: {e!r}")
        except websockets.exceptions.ConnectionClosed as e:
            stats.error(f"churn {kind}: {e!r}")
        await asyncio.sleep(rng.uniform(0, 0.05))


async def slow_reader(host, port, channel, stop, stats, rng):
    """Subscribes with a tiny receive window and never reads; the server must drop it."""
    while not stop.is_set():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        s.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(s, (host, port))
            transport = rng.choice(["sse", "ws"])
            if transport == "sse":
                req = f"GET /sse?channel={channel} HTTP/1.1\r\nHost: h\r\n\r\n"
            else:
                req = (f"GET /ws?channel={channel} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n")
            await asyncio.get_running_loop().sock_sendall(s, req.encode())
            try:
                await asyncio.wait_for(stop.wait(), rng.uniform(10, 30))
            except asyncio.TimeoutError:
                pass
        except OSError as e:
            stats.error(f"slow reader: {e!r}")
        finally:
            s.close()


def proc_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss_kb = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return rss_kb / 1024.0, len(os.listdir(f"/proc/{pid}/fd"))


async def server_metrics(host, port):
    _, _, body = await http_request(host, port, "GET", "/metrics")
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def start_herald(binary, args):
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--log-level", "warn"] + args,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    m = re.search(r"http://([\d.]+):(\d+)/", line)
    if not m:
        proc.kill()
        raise SystemExit(f"herald did not start: {line!r}")
    # Keep draining its output so a chatty log never blocks it.
    import threading
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, m.group(1), int(m.group(2))


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=120, help="seconds of churn")
    ap.add_argument("--herald", default=os.path.join(ROOT, "build", "src", "server", "herald"))
    ap.add_argument("--rate", type=float, default=40, help="checked messages published per second")
    ap.add_argument("--channels", type=int, default=3, help="checked channels")
    ap.add_argument("--churners", type=int, default=6)
    ap.add_argument("--slow-readers", type=int, default=2)
    ap.add_argument("--bulk-size", type=int, default=8000, help="bytes of each bulk-channel message")
    ap.add_argument("--interval", type=float, default=5, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=None, help="seconds before the RSS baseline "
                    "(default: a quarter of the duration, at least 20 s)")
    ap.add_argument("--rss-growth-mb", type=float, default=8, help="allowed RSS growth after the warm-up")
    ap.add_argument("--no-rss-check", action="store_true",
                    help="report RSS but do not bound it (sanitizer builds: their allocator keeps freed "
                    "memory in quarantine; LeakSanitizer checks leaks at exit instead)")
    ap.add_argument("--seed", type=int, default=None)
    opts = ap.parse_args()
    seed = opts.seed if opts.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    warmup = opts.warmup if opts.warmup is not None else max(20.0, opts.duration / 4)

    key = "soak-key"
    # Small history (fills during the warm-up, so RSS must be flat after it) and a small
    # outbox (slow readers are dropped quickly).
    proc, host, port = start_herald(opts.herald, ["--publish-key", key, "--history", "300",
                                                  "--max-outbox", "65536", "--threads", "2"])
    stats = Stats()
    failures = []
    try:
        await asyncio.sleep(0.5)
        base_rss, base_fds = proc_sample(proc.pid)
        print(f"soak: herald pid {proc.pid} on {host}:{port}, {opts.duration:.0f} s, seed {seed}; "
              f"baseline RSS {base_rss:.1f} MB, {base_fds} descriptors", flush=True)
        channels = [f"soak:{i}" for i in range(opts.channels)]
        stop = asyncio.Event()
        publisher = Publisher(host, port, key, channels, opts.rate, stats)
        checkers = [Checker(t, host, port, ch, stats, random.Random(rng.random()))
                    for t in ("ws", "sse", "poll") for ch in channels]
        tasks = [asyncio.create_task(publisher.run(stop, "soak:bulk", opts.bulk_size))]
        tasks += [asyncio.create_task(c.run(stop)) for c in checkers]
        tasks += [asyncio.create_task(churn(host, port, channels, stop, stats, random.Random(rng.random())))
                  for _ in range(opts.churners)]
        tasks += [asyncio.create_task(slow_reader(host, port, "soak:bulk", stop, stats, random.Random(rng.random())))
                  for _ in range(opts.slow_readers)]

        header = (f"{'t_s':>6} {'rss_mb':>7} {'fds':>5} {'conns':>5} {'ws':>4} {'sse':>4} {'poll':>4} "
                  f"{'published':>9} {'delivered':>9} {'slow_drop':>9} {'cl_err':>7} {'checked':>8} "
                  f"{'resumes':>7} {'churn':>6} {'gaps':>4} {'dups':>4} {'errors':>6}")
        print(header, flush=True)
        start = time.monotonic()
        warm_rss = None
        last_rss = None
        while time.monotonic() - start < opts.duration:
            await asyncio.sleep(min(opts.interval, max(0.0, opts.duration - (time.monotonic() - start))))
            t = time.monotonic() - start
            if proc.poll() is not None:
                failures.append(f"herald exited with {proc.returncode} during the soak")
                break
            rss, fds = proc_sample(proc.pid)
            try:
                m = await server_metrics(host, port)
            except Exception as e:  # noqa: BLE001
                stats.error(f"/metrics: {e!r}")
                m = {}
            g = lambda k: int(m.get(k, -1))  # noqa: E731
            delivered = sum(g(f'herald_messages_delivered_total{{transport="{k}"}}')
                            for k in ("sse", "longpoll", "websocket"))
            conns = [g(f'herald_connections{{transport="{k}"}}') for k in ("websocket", "sse", "longpoll")]
            print(f"{t:6.0f} {rss:7.1f} {fds:5d} {g('herald_http_connections'):5d} "
                  f"{conns[0]:4d} {conns[1]:4d} {conns[2]:4d} {g('herald_messages_published_total'):9d} "
                  f"{delivered:9d} {g('herald_slow_consumer_drops_total'):9d} {g('herald_client_errors_total'):7d} "
                  f"{stats.received:8d} {stats.resumes:7d} {stats.churn:6d} {stats.gaps:4d} {stats.dups:4d} "
                  f"{len(stats.unexpected):6d}", flush=True)
            if warm_rss is None and t >= warmup:
                warm_rss = rss
            last_rss = rss

        stop.set()
        await asyncio.wait(tasks, timeout=30)
        # Every checker must reach the last number published on its channel.
        deadline = time.monotonic() + 30
        await asyncio.gather(*(c.catch_up(publisher.last[c.channel], deadline) for c in checkers))

        # Every client is gone: the server must be back to its baseline descriptors.
        fds = None
        for _ in range(100):
            rss, fds = proc_sample(proc.pid)
            if fds <= base_fds:
                break
            await asyncio.sleep(0.2)
        m = await server_metrics(host, port)
        print(f"after the churn: RSS {rss:.1f} MB, {fds} descriptors (baseline {base_fds}), "
              f"{int(m.get('herald_http_connections', -1))} HTTP connections (the /metrics request itself)",
              flush=True)
        if fds != base_fds:
            failures.append(f"descriptors: {fds} after the churn, {base_fds} before it")
        if warm_rss is not None and last_rss is not None:
            growth = last_rss - warm_rss
            print(f"RSS after the warm-up ({warmup:.0f} s): {warm_rss:.1f} MB; at the end: {last_rss:.1f} MB "
                  f"(growth {growth:+.1f} MB, allowed {opts.rss_growth_mb} MB)", flush=True)
            if growth > opts.rss_growth_mb and not opts.no_rss_check:
                failures.append(f"RSS grew {growth:.1f} MB after the warm-up (allowed {opts.rss_growth_mb})")
        if stats.received == 0:
            failures.append("the checkers received nothing")
        if stats.gaps or stats.dups:
            failures.append(f"{stats.gaps} gaps and {stats.dups} duplicates")
        if stats.unexpected:
            failures.append(f"{len(stats.unexpected)} unexpected client-side errors:\n  " + "\n  ".join(stats.unexpected))
    finally:
        # SIGTERM drains and exits 0; under ASan a leak found at exit makes it non-zero.
        proc.terminate()
        try:
            if proc.wait(30) != 0:
                failures.append(f"herald exited with status {proc.returncode} after SIGTERM")
        except subprocess.TimeoutExpired:
            proc.kill()
            failures.append("herald did not exit within 30 s of SIGTERM")
    print(f"checked {stats.received} messages over {stats.resumes} resumes, {stats.published} publishes, "
          f"{stats.churn} churn connections", flush=True)
    if failures:
        print("SOAK FAILED:\n- " + "\n- ".join(failures), flush=True)
        return 1
    print("soak passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
