#!/usr/bin/env python3
"""RFC 6455 conformance of Herald's WebSocket endpoint, over raw TCP.

    HERALD_URL=http://127.0.0.1:PORT python3 tests/conformance/ws_conformance.py

Cases follow the groups of the Autobahn|Testsuite descriptions (1 framing, 2 ping/pong,
3 reserved bits, 4 opcodes, 5 fragmentation, 6 UTF-8, 7 close, 9 limits) plus the
opening handshake, restated for Herald: its WebSocket is not an echo server, so data
messages are JSON commands; {"op":"ping"} (extra fields ignored) answers {"op":"pong"},
and a binary message is refused with Close 1003. The server may push its own JSON
frames ({"op":"subscribed"}, {"op":"message"}, ...) at any time; waits skip them.

Environment: HERALD_URL (required), HERALD_WS_PATH (default /ws),
HERALD_WS_MAX_MESSAGE (the server's --ws-max-message, default 65536),
HERALD_WS_TIMEOUT (seconds per wait, default 5). Arguments, if any, name the cases
to run (e.g. Utf8 or CloseHandling.test_invalid_codes). Stdlib only. Prints a
summary line and exits non-zero when any case fails.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
import unittest
import urllib.parse

URL = urllib.parse.urlsplit(os.environ.get("HERALD_URL", "http://127.0.0.1:8080"))
HOST, PORT = URL.hostname or "127.0.0.1", URL.port or 80
PATH = os.environ.get("HERALD_WS_PATH", "/ws")
MAX_MESSAGE = int(os.environ.get("HERALD_WS_MAX_MESSAGE", "65536"))
TIMEOUT = float(os.environ.get("HERALD_WS_TIMEOUT", "5"))
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
PING_CMD = b'{"op":"ping"}'
KOSME = "κόσμε".encode()  # multi-byte text used across the UTF-8 cases


def ping_command(size=None, pad=b""):
    """A {"op":"ping"} command, its "pad" string filling it to exactly `size` bytes."""
    if size is not None:
        base = len(b'{"op":"ping","pad":""}')
        assert size >= base, size
        pad = b"x" * (size - base)
    return b'{"op":"ping","pad":"' + pad + b'"}'


class Closed(Exception):
    """The server closed the TCP connection."""


class Frame:
    def __init__(self, fin, rsv, opcode, payload):
        self.fin, self.rsv, self.opcode, self.payload = fin, rsv, opcode, payload

    def json_op(self):
        """The "op" of a server JSON text frame, or None."""
        if self.opcode != TEXT:
            return None
        try:
            doc = json.loads(self.payload.decode())
        except ValueError:
            return None
        return doc.get("op") if isinstance(doc, dict) else None

    def __repr__(self):
        return "Frame(op=%#x fin=%d rsv=%d payload=%r)" % (self.opcode, self.fin, self.rsv, self.payload[:80])


class Client:
    """A raw client: builds any frame, legal or not, and reads frames byte-exact."""

    def __init__(self, test, path=PATH, headers=None, handshake=True):
        self.test = test
        self.sock = socket.create_connection((HOST, PORT), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        if handshake:
            self.upgrade(path, headers or {})

    def close_socket(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # --- HTTP -------------------------------------------------------------------------
    def send_request(self, method="GET", path=PATH, headers=None, key=None):
        key = key or base64.b64encode(os.urandom(16)).decode()
        fields = {"Host": "%s:%d" % (HOST, PORT), "Upgrade": "websocket", "Connection": "Upgrade",
                  "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
        fields.update(headers or {})
        lines = ["%s %s HTTP/1.1" % (method, path)]
        lines += ["%s: %s" % (k, v) for k, v in fields.items() if v is not None]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return key

    def read_response(self):
        """(status, {lower-case name: value}, body) of the HTTP answer."""
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if status != 101:
            want = int(headers.get("content-length", "0"))
            while len(self.buf) < want:
                self.fill()
            body, self.buf = self.buf[:want], self.buf[want:]
        return status, headers, body

    def upgrade(self, path=PATH, headers=None):
        key = self.send_request(path=path, headers=headers)
        status, fields, _ = self.read_response()
        self.test.assertEqual(status, 101, "handshake refused")
        expected = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        self.test.assertEqual(fields.get("sec-websocket-accept"), expected)
        self.test.assertEqual(fields.get("upgrade", "").lower(), "websocket")
        self.test.assertIn("upgrade", fields.get("connection", "").lower())
        return fields

    # --- frames -----------------------------------------------------------------------
    @staticmethod
    def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, len_bytes=None):
        n = len(payload)
        if len_bytes is None:
            len_bytes = 0 if n < 126 else 2 if n <= 0xFFFF else 8
        out = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
        mbit = 0x80 if mask else 0
        if len_bytes == 0:
            out += bytes([mbit | n])
        elif len_bytes == 2:
            out += bytes([mbit | 126]) + struct.pack("!H", n)
        else:
            out += bytes([mbit | 127]) + struct.pack("!Q", n)
        if not mask:
            return out + payload
        key = os.urandom(4)
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes((key * (n // 4 + 1))[:n], "big")) if n else 0
        return out + key + masked.to_bytes(n, "big")

    def send(self, opcode, payload=b"", chop=None, pause=0.0, **kw):
        self.send_raw(self.frame(opcode, payload, **kw), chop, pause)

    def send_raw(self, data, chop=None, pause=0.0):
        """Writes `data`, in pieces of `chop` bytes with `pause` seconds between them."""
        step = chop or len(data) or 1
        for i in range(0, len(data), step):
            self.sock.sendall(data[i:i + step])
            if pause:
                time.sleep(pause)

    def fill(self, timeout=TIMEOUT):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise
        except (ConnectionResetError, BrokenPipeError) as e:
            raise Closed("connection reset: %s" % e)
        if not chunk:
            raise Closed("TCP closed")
        self.buf += chunk

    def need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no complete frame within %.1fs" % TIMEOUT)
            self.fill(left)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        b0, b1 = self.need(2, deadline)
        self.test.assertFalse(b1 & 0x80, "server frames must not be masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.need(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.need(8, deadline))[0]
        frame = Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, self.need(n, deadline))
        self.test.assertEqual(frame.rsv, 0, "server set RSV bits with no extension: %r" % frame)
        return frame

    def next_frame(self, timeout=TIMEOUT, keep_ops=()):
        """The next frame that is not one of the server's own JSON pushes."""
        while True:
            frame = self.recv_frame(timeout)
            op = frame.json_op()
            if op is None or op in keep_ops:
                return frame

    # --- expectations -------------------------------------------------------------------
    def expect_pong_command(self):
        """Waits for the {"op":"pong"} answering a {"op":"ping"} command."""
        try:
            frame = self.next_frame(keep_ops=("pong", "error"))
        except socket.timeout:
            self.test.fail("no {\"op\":\"pong\"} within %.1fs" % TIMEOUT)
        except Closed as e:
            self.test.fail("expected {\"op\":\"pong\"}, connection ended: %s" % e)
        self.test.assertEqual(frame.json_op(), "pong", "expected {\"op\":\"pong\"}, got %r" % frame)

    def expect_error_command(self):
        frame = self.next_frame(keep_ops=("pong", "error"))
        self.test.assertEqual(frame.json_op(), "error", "expected {\"op\":\"error\"}, got %r" % frame)
        doc = json.loads(frame.payload.decode())
        self.test.assertTrue(doc.get("code") and doc.get("message"), "error frame lacks code/message: %r" % doc)

    def expect_pong(self, payload):
        try:
            frame = self.next_frame()
        except socket.timeout:
            self.test.fail("no Pong within %.1fs" % TIMEOUT)
        self.test.assertEqual(frame.opcode, PONG, "expected Pong, got %r" % frame)
        self.test.assertEqual(frame.payload, payload)

    def expect_quiet(self, wait=0.3):
        """Nothing but server pushes may arrive for `wait` seconds."""
        try:
            frame = self.next_frame(timeout=wait)
        except socket.timeout:
            return
        self.test.fail("expected no frame, got %r" % frame)

    def expect_close(self, codes, reason_required=True):
        """Waits for the server's Close, checks its code, answers it and checks that the
        server then closes TCP. `codes` is one code, a tuple of codes, or None for an
        empty Close."""
        codes = codes if isinstance(codes, tuple) else (codes,)
        try:
            frame = self.next_frame()
        except socket.timeout:
            self.test.fail("no Close within %.1fs (expected %s)" % (TIMEOUT, codes))
        except Closed as e:
            self.test.fail("TCP ended without a Close frame (expected %s): %s" % (codes, e))
        self.test.assertEqual(frame.opcode, CLOSE, "expected Close %s, got %r" % (codes, frame))
        p = frame.payload
        self.test.assertNotEqual(len(p), 1, "Close payload of 1 byte")
        code = struct.unpack("!H", p[:2])[0] if p else None
        self.test.assertIn(code, codes, "Close code %s, expected %s (reason %r)" % (code, codes, p[2:]))
        reason = p[2:].decode()  # raises on invalid UTF-8
        if reason_required and code not in (None, 1000):
            self.test.assertTrue(reason, "Close %d without a reason" % code)
        try:
            self.sock.sendall(self.frame(CLOSE, p[:2]))
        except OSError:
            pass  # the server may already have closed TCP
        self.expect_eof()
        return code, reason

    def expect_eof(self):
        deadline = time.monotonic() + TIMEOUT
        try:
            while time.monotonic() < deadline:
                self.buf = b""
                self.fill(max(0.01, deadline - time.monotonic()))
        except Closed:
            return
        except socket.timeout:
            pass
        self.test.fail("server did not close TCP after the Close handshake")


class Case(unittest.TestCase):
    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close_socket()

    def connect(self, **kw):
        c = Client(self, **kw)
        self.clients.append(c)
        return c

    def alive(self, c):
        """Proves the connection still works: a command round trip."""
        c.send(TEXT, PING_CMD)
        c.expect_pong_command()


# --- 1: framing ----------------------------------------------------------------------
class Framing(Case):
    def test_text_lengths(self):
        c = self.connect()
        for n in (22, 125, 126, 127, 128, 65535, 65536):
            if n <= MAX_MESSAGE:
                c.send(TEXT, ping_command(n))
                c.expect_pong_command()

    def test_text_sent_in_chops(self):
        c = self.connect()
        c.send(TEXT, ping_command(min(MAX_MESSAGE, 65536)), chop=997)
        c.expect_pong_command()

    def test_non_minimal_lengths(self):
        c = self.connect()
        c.send(TEXT, PING_CMD, len_bytes=2)
        c.expect_pong_command()
        c.send(TEXT, PING_CMD, len_bytes=8)
        c.expect_pong_command()

    def test_empty_text_is_an_error_command(self):
        c = self.connect()
        c.send(TEXT, b"")
        c.expect_error_command()
        self.alive(c)

    def test_invalid_json_is_an_error_command(self):
        c = self.connect()
        c.send(TEXT, b"not json")
        c.expect_error_command()
        c.send(TEXT, b'{"op":"no-such-op"}')
        c.expect_error_command()
        self.alive(c)

    def test_binary_is_refused_with_1003(self):
        for n in (0, 126):
            c = self.connect()
            c.send(BINARY, b"\xfe" * n)
            c.expect_close(1003)

    def test_unmasked_client_frame(self):
        c = self.connect()
        c.send(TEXT, PING_CMD, mask=False)
        c.expect_close(1002)

    def test_length_top_bit_set(self):
        c = self.connect()
        c.send_raw(bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 4]) + os.urandom(4) + b"abcd")
        c.expect_close(1002)

    def test_channel_pushes_are_skipped(self):
        c = self.connect(path=PATH + "?channel=ws-conformance")
        self.alive(c)


# --- 2: ping / pong --------------------------------------------------------------------
class PingPong(Case):
    def test_ping_payloads(self):
        c = self.connect()
        for payload in (b"", b"Hello, world!", bytes(range(0, 125)), b"\xfe\xff" * 62 + b"\x00"):
            c.send(PING, payload)
            c.expect_pong(payload)

    def test_ping_in_one_byte_chops(self):
        c = self.connect()
        payload = bytes(range(125))
        c.send(PING, payload, chop=1)
        c.expect_pong(payload)

    def test_ping_over_125_bytes(self):
        c = self.connect()
        c.send(PING, b"x" * 126)
        c.expect_close(1002)

    def test_unsolicited_pongs_are_ignored(self):
        c = self.connect()
        c.send(PONG, b"")
        c.send(PONG, b"unsolicited")
        c.expect_quiet()
        c.send(PING, b"after")
        c.expect_pong(b"after")

    def test_many_pings(self):
        for chop in (None, 1):
            c = self.connect()
            payloads = [b"ping-%d" % i for i in range(10)]
            for p in payloads:
                c.send(PING, p, chop=chop)
            # RFC 6455 5.5.3 allows answering only the latest of several pings; each pong
            # must echo one of them, in order, and the last one must be answered.
            got = []
            while not got or got[-1] != payloads[-1]:
                frame = c.next_frame()
                self.assertEqual(frame.opcode, PONG, frame)
                got.append(frame.payload)
            self.assertEqual(got, [p for p in payloads if p in got], "pongs out of order")


# --- 3: reserved bits ------------------------------------------------------------------
class ReservedBits(Case):
    def test_rsv_on_every_frame_kind(self):
        kinds = [(TEXT, PING_CMD), (BINARY, b"\x00"), (PING, b"p"), (PONG, b""), (CLOSE, struct.pack("!H", 1000))]
        for rsv in range(1, 8):
            opcode, payload = kinds[rsv % len(kinds)]
            c = self.connect()
            self.alive(c)
            c.send(opcode, payload, rsv=rsv)
            c.expect_close(1002)

    def test_rsv_after_valid_frames(self):
        c = self.connect()
        c.send_raw(c.frame(TEXT, PING_CMD) + c.frame(TEXT, PING_CMD, rsv=2) + c.frame(PING, b"late"))
        c.expect_pong_command()
        c.expect_close(1002)


# --- 4: opcodes ------------------------------------------------------------------------
class Opcodes(Case):
    def test_reserved_opcodes(self):
        for opcode in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF):
            c = self.connect()
            c.send_raw(c.frame(TEXT, PING_CMD) + c.frame(opcode, b"reserved" if opcode & 1 else b"")
                       + c.frame(PING, b""))
            c.expect_pong_command()
            c.expect_close(1002)


# --- 5: fragmentation --------------------------------------------------------------------
class Fragmentation(Case):
    def test_fragmented_control_frames(self):
        for opcode in (PING, PONG, CLOSE):
            c = self.connect()
            c.send_raw(c.frame(opcode, b"frag", fin=False) + c.frame(CONT, b"ment"))
            c.expect_close(1002)

    def test_text_in_fragments(self):
        c = self.connect()
        cmd = ping_command(64)
        for pause in (0.0, 0.05):
            c.send(TEXT, cmd[:10], fin=False)
            time.sleep(pause)
            c.send(CONT, cmd[10:30], fin=False)
            time.sleep(pause)
            c.send(CONT, cmd[30:])
            c.expect_pong_command()
        # Every frame sent one byte at a time.
        c.send_raw(c.frame(TEXT, cmd[:20], fin=False) + c.frame(CONT, cmd[20:]), chop=1)
        c.expect_pong_command()

    def test_empty_fragments(self):
        c = self.connect()
        c.send_raw(c.frame(TEXT, b"", fin=False) + c.frame(CONT, PING_CMD, fin=False) + c.frame(CONT, b""))
        c.expect_pong_command()

    def test_control_frames_between_fragments(self):
        c = self.connect()
        cmd = ping_command(40)
        c.send_raw(c.frame(TEXT, cmd[:5], fin=False) + c.frame(PING, b"one") + c.frame(CONT, cmd[5:20], fin=False)
                   + c.frame(PONG, b"unsolicited") + c.frame(PING, b"two") + c.frame(CONT, cmd[20:]))
        c.expect_pong(b"one")
        c.expect_pong(b"two")
        c.expect_pong_command()

    def test_continuation_without_message(self):
        for fin in (True, False):
            c = self.connect()
            c.send(CONT, b"orphan", fin=fin)
            c.expect_close(1002)

    def test_continuation_after_finished_message(self):
        c = self.connect()
        c.send_raw(c.frame(TEXT, PING_CMD[:4], fin=False) + c.frame(CONT, PING_CMD[4:]) + c.frame(CONT, b"x"))
        c.expect_pong_command()
        c.expect_close(1002)

    def test_new_message_inside_fragmented_one(self):
        for second in (TEXT, BINARY):
            c = self.connect()
            c.send_raw(c.frame(TEXT, PING_CMD[:4], fin=False) + c.frame(second, PING_CMD[4:]))
            c.expect_close(1002)


# --- 6: UTF-8 ------------------------------------------------------------------------------
INVALID_UTF8 = [
    b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xc1\xbf",  # overlong
    b"\xed\xa0\x80", b"\xed\xbf\xbf",  # surrogates
    b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xfe", b"\xff",  # beyond U+10FFFF
    b"\x80", b"\xbf", b"\xc2\x41",  # stray / missing continuation
]


class Utf8(Case):
    def test_valid_text_split_inside_code_points(self):
        c = self.connect()
        cmd = ping_command(pad=KOSME + "€😀\U0010ffff".encode())
        start = cmd.index(b'pad":"') + 6
        for cut in range(start, len(cmd) - 2):
            c.send_raw(c.frame(TEXT, cmd[:cut], fin=False) + c.frame(CONT, cmd[cut:]))
            c.expect_pong_command()
        # One byte per fragment.
        frames = [c.frame(TEXT if i == 0 else CONT, cmd[i:i + 1], fin=i == len(cmd) - 1) for i in range(len(cmd))]
        c.send_raw(b"".join(frames))
        c.expect_pong_command()

    def test_boundary_code_points(self):
        c = self.connect()
        for ch in ("\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\ufffd", "\uffff", "\U00010000", "\U0010ffff"):
            c.send(TEXT, ping_command(pad=ch.encode()))
            c.expect_pong_command()

    def test_invalid_sequences(self):
        for bad in INVALID_UTF8:
            with self.subTest(bad=bad):
                c = self.connect()
                c.send(TEXT, ping_command(pad=KOSME + bad + b"edited"))
                c.expect_close(1007)

    def test_truncated_at_message_end(self):
        for cut in (b"\xc2", b"\xe2\x82", b"\xf0\x9f\x98"):
            c = self.connect()
            c.send_raw(c.frame(TEXT, b'{"op":"ping","pad":"', fin=False) + c.frame(CONT, cut))
            c.expect_close(1007)

    def test_invalid_split_across_fragments(self):
        c = self.connect()
        c.send_raw(c.frame(TEXT, ping_command(pad=KOSME)[:-2] + b"\xf4", fin=False) + c.frame(CONT, b"\x90\x80\x80"))
        c.expect_close(1007)

    def test_fail_fast_on_first_fragment(self):
        # The rest of the message is never sent: the server must fail on what it has.
        c = self.connect()
        c.send(TEXT, b'{"op":"ping","pad":"' + KOSME, fin=False)
        c.expect_quiet(0.2)
        c.send(CONT, b"\xf4\x90\x80\x80", fin=False)
        c.expect_close(1007)

    def test_fail_fast_inside_one_frame(self):
        c = self.connect()
        payload = b'{"op":"ping","pad":"' + KOSME + b"\xed\xa0\x80" + b"x" * 200 + b'"}'
        wire = c.frame(TEXT, payload)
        header = len(wire) - len(payload)
        c.send_raw(wire[:header + payload.index(b"\xed") + 3])  # the payload up to the surrogate
        c.expect_close(1007)


# --- 7: close handling ----------------------------------------------------------------------
class CloseHandling(Case):
    def close_with(self, payload, expect, reason_required=False):
        c = self.connect()
        c.send(CLOSE, payload)
        return c.expect_close(expect, reason_required)

    def test_close_1000(self):
        self.close_with(struct.pack("!H", 1000), 1000)
        self.close_with(struct.pack("!H", 1000) + b"bye " + KOSME, 1000)
        self.close_with(struct.pack("!H", 1000) + b"r" * 123, 1000)

    def test_close_without_payload(self):
        self.close_with(b"", (None, 1000))

    def test_valid_codes_are_answered(self):
        for code in (1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999):
            with self.subTest(code=code):
                self.close_with(struct.pack("!H", code), (code, 1000))

    def test_invalid_codes(self):
        for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
            with self.subTest(code=code):
                self.close_with(struct.pack("!H", code), 1002, reason_required=True)

    def test_one_byte_payload(self):
        self.close_with(b"\x03", 1002, reason_required=True)

    def test_reason_too_long(self):
        self.close_with(struct.pack("!H", 1000) + b"r" * 124, 1002, reason_required=True)

    def test_reason_invalid_utf8(self):
        self.close_with(struct.pack("!H", 1000) + KOSME + b"\xed\xa0\x80", 1007, reason_required=True)

    def test_nothing_after_close_is_processed(self):
        c = self.connect()
        c.send_raw(c.frame(CLOSE, struct.pack("!H", 1000)) + c.frame(PING, b"late") + c.frame(TEXT, PING_CMD))
        c.expect_close(1000)

    def test_close_inside_fragmented_message(self):
        c = self.connect()
        c.send_raw(c.frame(TEXT, PING_CMD[:5], fin=False) + c.frame(CLOSE, struct.pack("!H", 1000)))
        c.expect_close(1000)


# --- 9: limits ------------------------------------------------------------------------------
class Limits(Case):
    def test_message_at_the_limit(self):
        c = self.connect()
        c.send(TEXT, ping_command(MAX_MESSAGE), chop=65536)
        c.expect_pong_command()

    def test_frame_over_the_limit(self):
        c = self.connect()
        c.send(TEXT, ping_command(MAX_MESSAGE + 1), chop=65536)
        c.expect_close(1009)

    def test_announced_oversize_frame(self):
        # Only the header is sent: a server may refuse from the announced length alone,
        # and must not wait for 1 GiB to arrive.
        c = self.connect()
        c.send_raw(bytes([0x81, 0xFF]) + struct.pack("!Q", 1 << 30) + os.urandom(4))
        c.expect_close(1009)

    def test_fragments_adding_up_over_the_limit(self):
        c = self.connect()
        cmd = ping_command(MAX_MESSAGE + 10)
        half = len(cmd) // 2
        c.send_raw(c.frame(TEXT, cmd[:half], fin=False) + c.frame(CONT, cmd[half:]), chop=65536)
        c.expect_close(1009)

    def test_message_in_many_fragments(self):
        c = self.connect()
        cmd = ping_command(MAX_MESSAGE)
        parts = [cmd[i:i + 1024] for i in range(0, len(cmd), 1024)]
        c.send_raw(b"".join(c.frame(TEXT if i == 0 else CONT, p, fin=i == len(parts) - 1)
                            for i, p in enumerate(parts)), chop=65536)
        c.expect_pong_command()

    def test_many_small_messages(self):
        c = self.connect()
        c.send_raw(c.frame(TEXT, PING_CMD) * 500, chop=8192)
        for _ in range(500):
            c.expect_pong_command()


# --- opening handshake ---------------------------------------------------------------------
class Handshake(Case):
    def request(self, method="GET", headers=None, key=None):
        c = self.connect(handshake=False)
        c.send_request(method=method, headers=headers, key=key)
        return c.read_response()

    def test_valid_upgrade_then_frames(self):
        c = self.connect()
        self.alive(c)

    def test_missing_key(self):
        self.assertEqual(self.request(headers={"Sec-WebSocket-Key": None})[0], 400)

    def test_key_of_wrong_length(self):
        self.assertEqual(self.request(key=base64.b64encode(os.urandom(15)).decode())[0], 400)

    def test_version_8(self):
        status, fields, _ = self.request(headers={"Sec-WebSocket-Version": "8"})
        self.assertEqual(status, 426)
        self.assertEqual(fields.get("sec-websocket-version"), "13")

    def test_post(self):
        status, fields, _ = self.request(method="POST")
        self.assertEqual(status, 405)
        self.assertIn("GET", fields.get("allow", ""))

    def test_missing_upgrade(self):
        self.assertEqual(self.request(headers={"Upgrade": None})[0], 400)

    def test_subprotocol(self):
        c = self.connect(handshake=False)
        fields = c.upgrade(headers={"Sec-WebSocket-Protocol": "chat, herald.v1"})
        self.assertEqual(fields.get("sec-websocket-protocol"), "herald.v1")
        c = self.connect(handshake=False)
        fields = c.upgrade(headers={"Sec-WebSocket-Protocol": "chat"})
        self.assertNotIn("sec-websocket-protocol", fields)

    def test_permessage_deflate_is_not_accepted(self):
        c = self.connect(handshake=False)
        fields = c.upgrade(headers={"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"})
        self.assertNotIn("sec-websocket-extensions", fields)
        # With no extension agreed, a compressed (RSV1) frame is a protocol error.
        c.send(TEXT, PING_CMD, rsv=4)
        c.expect_close(1002)


def main():
    loader, module = unittest.defaultTestLoader, sys.modules[__name__]
    names = sys.argv[1:]
    suite = loader.loadTestsFromNames(names, module) if names else loader.loadTestsFromModule(module)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    print("conformance: %d passed, %d failed" % (result.testsRun - failed, failed))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
