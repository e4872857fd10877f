#!/usr/bin/python3
"""What TLS costs a Herald server: memory per held connection and CPU per delivered
message, plain against TLS, on the same workload. Not part of the test suite.

    bench/tls_cost.py --herald build/src/server/herald [--conns 2000] [--subs 200]
                      [--batches 200] [--batch 100] [--size 100] [--key rsa|ec]

Memory: opens --conns SSE connections (each handshake done, the stream's head
read), then reads the server's RSS; per connection = (RSS held - RSS before) / conns,
and the server CPU spent per connection opened (the handshake, for TLS).
CPU: --subs SSE subscribers on one channel, --batches publishes of --batch messages
of --size bytes each (arrays, so every loop round writes many messages to each
connection); server CPU (user + system, from /proc) per delivered message.
The certificate is made here (RSA 2048 like the tests, or --key ec for ECDSA P-256)."""
import argparse
import asyncio
import json
import os
import re
import ssl
import subprocess
import tempfile
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(herald, tls_files):
    args = [herald, "--listen", "127.0.0.1:0", "--log-level", "warn", "--heartbeat", "600000",
            "--max-outbox", str(64 << 20)]
    if tls_files:
        args += ["--tls-cert", tls_files[0], "--tls-key", tls_files[1]]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
    return proc, port


async def open_sse(port, ctx, channel):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                   server_hostname="localhost" if ctx else None)
    writer.write(f"GET /sse?channel={channel} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    await reader.readuntil(b"event: subscribed")
    return reader, writer


async def memory(port, ctx, pid, conns):
    await asyncio.sleep(0.3)
    before, cpu0 = rss_kib(pid), cpu_s(pid)
    held = []
    for i in range(0, conns, 100):
        held += await asyncio.gather(*[open_sse(port, ctx, f"mem:{j}") for j in range(i, min(conns, i + 100))])
    cpu = cpu_s(pid) - cpu0
    await asyncio.sleep(0.5)
    after = rss_kib(pid)
    for _, w in held:
        w.close()
    return (after - before) / conns, cpu / conns


async def throughput(port, ctx, pid, subs, batches, batch, size):
    streams = await asyncio.gather(*[open_sse(port, ctx, "cpu") for _ in range(subs)])
    expected = batches * batch
    counts = [0] * subs

    async def drain(i, reader):
        while counts[i] < expected:
            chunk = await reader.read(1 << 16)
            if not chunk:
                return
            counts[i] += chunk.count(b"event: message")

    readers = [asyncio.create_task(drain(i, r)) for i, (r, _) in enumerate(streams)]
    body = json.dumps([{"channel": "cpu", "data": "x" * size}] * batch).encode()
    pub_r, pub_w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                 server_hostname="localhost" if ctx else None)
    cpu0, t0 = cpu_s(pid), time.monotonic()
    for _ in range(batches):
        pub_w.write(b"POST /api/publish HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        head = await pub_r.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        await pub_r.readexactly(length)
    try:
        await asyncio.wait_for(asyncio.gather(*readers), 120)
    except asyncio.TimeoutError:
        short = [c for c in counts if c < expected]
        raise SystemExit(f"timed out: {len(short)} of {subs} subscribers short, fewest {min(counts)} of {expected}")
    cpu, wall = cpu_s(pid) - cpu0, time.monotonic() - t0
    for _, w in streams:
        w.close()
    pub_w.close()
    delivered = sum(counts)
    return delivered, cpu, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--herald", required=True)
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--subs", type=int, default=200)
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--key", choices=("rsa", "ec"), default="rsa", help="RSA 2048 (as the tests) or ECDSA P-256")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        newkey = ["-newkey", "rsa:2048"] if a.key == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        ctx = ssl.create_default_context(cafile=cert)
        print(f"{'mode':6} {'KiB/conn':>9} {'ms cpu/conn':>12} {'delivered':>10} {'server cpu s':>13} {'us cpu/msg':>11} "
              f"{'msgs/s':>10}")
        for mode, files, client_ctx in (("plain", None, None), ("tls", (cert, key), ctx)):
            proc, port = start(a.herald, files)
            try:
                per_conn, cpu_per_conn = asyncio.run(memory(port, client_ctx, proc.pid, a.conns))
                delivered, cpu, wall = asyncio.run(throughput(port, client_ctx, proc.pid, a.subs, a.batches, a.batch, a.size))
            finally:
                proc.terminate()
                proc.wait()
            print(f"{mode:6} {per_conn:9.1f} {cpu_per_conn * 1000:12.3f} {delivered:10d} {cpu:13.2f} {cpu / delivered * 1e6:11.2f} {delivered / wall:10.0f}")


if __name__ == "__main__":
    main()
