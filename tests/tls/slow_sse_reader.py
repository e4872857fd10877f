#!/usr/bin/python3
"""An https SSE subscriber that stops reading for a while, for the tls test: with a
16 KiB receive buffer the server's socket fills and its TLS writes must wait
(SSL_ERROR_WANT_WRITE) and resume with the same bytes.

    slow_sse_reader.py PORT CA_FILE CHANNEL PAUSE_SECONDS COUNT

Prints {"ready":true} once subscribed, then reads nothing for PAUSE_SECONDS,
then reads COUNT messages and prints one JSON line per message:
{"id":..,"len":..,"sha256":..} (of the envelope's data, a string)."""
import hashlib
import json
import socket
import ssl
import sys
import time


def main(port, ca_file, channel, pause, count):
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    raw.connect(("127.0.0.1", port))
    ctx = ssl.create_default_context(cafile=ca_file)
    conn = ctx.wrap_socket(raw, server_hostname="localhost")
    conn.sendall(f"GET /sse?channel={channel} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    buf = b""
    while b"event: subscribed" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            raise SystemExit("stream ended before the subscription")
        buf += chunk
    print(json.dumps({"ready": True}), flush=True)
    time.sleep(pause)
    # Chunked framing is left in: each event sits inside one chunk, and the event
    # lines are found by their own markers.
    seen = 0
    conn.settimeout(60)
    while seen < count:
        while True:
            start = buf.find(b"id: ")
            end = buf.find(b"\n\n", start) if start >= 0 else -1
            if end < 0:
                break
            event, buf = buf[start:end], buf[end + 2:]
            fields = dict(line.split(": ", 1) for line in event.decode().split("\n") if ": " in line)
            if fields.get("event") != "message":
                continue
            data = json.loads(fields["data"])["data"]
            print(json.dumps({"id": fields["id"], "len": len(data),
                              "sha256": hashlib.sha256(data.encode()).hexdigest()}), flush=True)
            seen += 1
        if seen < count:
            chunk = conn.recv(65536)
            if not chunk:
                raise SystemExit(f"stream ended after {seen} of {count} messages")
            buf += chunk


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
