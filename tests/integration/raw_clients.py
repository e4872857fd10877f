"""Subscribers on raw sockets, for tests that need control over reading (a client that
stops reading, a connection reset at a chosen moment) or many connections in one
thread. Each client parses its transport's wire format incrementally and returns
events: ("message", envelope), ("gap", {"channel", "skipped"}), ("subscribed", ...)
or ("other", ...). A long-poll is plain HTTP: see poll()."""
import base64
import json
import os
import socket
import struct
import urllib.parse
import urllib.request


def address(base):
    u = urllib.parse.urlparse(base)
    return u.hostname, u.port


def connect(base, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        # Before connect, so the window the server sees is small from the start.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(address(base))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def reset(sock):
    """Close with RST (SO_LINGER 0): the server's next write or read fails at once."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def query(channels, **params):
    items = [("channel", c) for c in channels] + [(k, v) for k, v in params.items() if v is not None]
    return urllib.parse.urlencode(items)


class WsClient:
    kind = "websocket"

    def __init__(self, base, channels, rcvbuf=None, **params):
        self.sock = connect(base, rcvbuf)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /ws?%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           % (query(channels, **params), key)).encode())
        self.buf = b""
        self.head = None

    def send_json(self, obj):
        self.send_frame(0x1, json.dumps(obj).encode())

    def send_frame(self, opcode, payload):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        else:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def feed(self, data):
        self.buf += data
        out = []
        if self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return out
            self.head = self.buf[:end].decode()
            self.buf = self.buf[end + 4:]
            if not self.head.startswith("HTTP/1.1 101"):
                raise RuntimeError("handshake refused: " + self.head.split("\r\n")[0])
        # Offsets, not slices: a busy reader must not copy its buffer once per frame.
        buf, at = self.buf, 0
        while len(buf) - at >= 2:
            opcode = buf[at] & 0x0F
            n = buf[at + 1] & 0x7F
            pos = at + 2
            if n == 126:
                if len(buf) - at < 4:
                    break
                n = struct.unpack_from(">H", buf, at + 2)[0]
                pos = at + 4
            elif n == 127:
                if len(buf) - at < 10:
                    break
                n = struct.unpack_from(">Q", buf, at + 2)[0]
                pos = at + 10
            if len(buf) < pos + n:
                break
            payload = buf[pos:pos + n]
            at = pos + n
            if opcode == 1:
                frame = json.loads(payload)
                op = frame.get("op")
                out.append((op if op in ("message", "gap", "subscribed") else "other", frame))
            elif opcode == 8:
                out.append(("close", payload))
            elif opcode == 9:
                self.send_frame(0xA, payload)  # a live client answers pings
        self.buf = buf[at:]
        return out


class SseClient:
    kind = "sse"

    def __init__(self, base, channels, rcvbuf=None, **params):
        self.sock = connect(base, rcvbuf)
        self.sock.sendall(("GET /sse?%s HTTP/1.1\r\nHost: x\r\n\r\n" % query(channels, **params)).encode())
        self.raw = b""
        self.text = b""
        self.head = None

    def feed(self, data):
        self.raw += data
        out = []
        if self.head is None:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return out
            self.head = self.raw[:end].decode()
            self.raw = self.raw[end + 4:]
            if not self.head.startswith("HTTP/1.1 200"):
                raise RuntimeError("SSE refused: " + self.head.split("\r\n")[0])
        # Chunked transfer coding: take every complete chunk (offsets, not slices).
        raw, at, parts = self.raw, 0, [self.text]
        while True:
            line_end = raw.find(b"\r\n", at)
            if line_end < 0:
                break
            size = int(raw[at:line_end], 16)
            if len(raw) < line_end + 2 + size + 2:
                break
            parts.append(raw[line_end + 2:line_end + 2 + size])
            at = line_end + 2 + size + 2
            if size == 0:
                out.append(("end", None))
        self.raw = raw[at:]
        text, at = b"".join(parts), 0
        while True:
            end = text.find(b"\n\n", at)
            if end < 0:
                break
            block = text[at:end].decode()
            at = end + 2
            event, data = "message", None
            for line in block.split("\n"):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
            if data is None:
                continue
            out.append((event if event in ("message", "gap", "subscribed") else "other", json.loads(data)))
        self.text = text[at:]
        return out


def poll(base, channels, **params):
    with urllib.request.urlopen(base + "/poll?" + query(channels, **params), timeout=30) as r:
        return json.loads(r.read())


def publish(base, channel, data):
    req = urllib.request.Request(base + "/api/publish", data=json.dumps({"channel": channel, "data": data}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["id"]


def server_socket(pid, base, client_sock):
    """(inode, bytes in the kernel's send queue) of the server's end of this client's
    connection, from /proc/PID/net/tcp; (None, 0) when it is gone."""
    server_port = address(base)[1]
    port = client_sock.getsockname()[1]
    for table in ("/proc/%d/net/tcp" % pid, "/proc/%d/net/tcp6" % pid):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if int(f[1].split(":")[1], 16) == server_port and int(f[2].split(":")[1], 16) == port:
                return f[9], int(f[4].split(":")[0], 16)
    return None, 0


def metric(base, name):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise KeyError(name)
