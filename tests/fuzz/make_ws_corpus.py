#!/usr/bin/env python3
"""Writes the seed corpora of the WebSocket fuzzers (tests/fuzz/corpus/ws_*/).

The seeds are committed; rerun this only to change them. fuzz_ws_frames inputs are
<limit selector byte> <cut seed byte> <client wire bytes>; fuzz_ws_handshake inputs
are loose HTTP requests, optionally followed by a blank line and allowed origins.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = b"\x37\xfa\x21\x3d"


def frame(b0, payload, masked=True, len_bytes=None):
    n = len(payload)
    if len_bytes is None:
        len_bytes = 0 if n < 126 else 2 if n <= 0xFFFF else 8
    mbit = 0x80 if masked else 0
    if len_bytes == 0:
        head = bytes([b0, mbit | n])
    elif len_bytes == 2:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    return head + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


def close(code, reason=b""):
    return frame(0x88, struct.pack("!H", code) + reason)


FRAMES = {
    "text_hello": frame(0x81, b"Hello"),
    "fragmented_with_ping": frame(0x01, b"Hel") + frame(0x89, b"ping") + frame(0x80, b"lo"),
    "binary_300": frame(0x82, bytes(range(256)) + b"x" * 44),
    "non_minimal_len64": frame(0x81, b"abc", len_bytes=8),
    "utf8_split": frame(0x01, "κό".encode()[:3]) + frame(0x80, "κό".encode()[3:]),
    "utf8_invalid": frame(0x81, b"\xce\xba\xed\xa0\x80"),
    "close_empty": frame(0x88, b""),
    "close_1000_reason": close(1000, b"bye"),
    "close_bad_code": close(1005),
    "close_one_byte": frame(0x88, b"\x03"),
    "unmasked": frame(0x81, b"Hello", masked=False),
    "rsv1": frame(0xC1, b"x"),
    "reserved_opcode": frame(0x83, b""),
    "continuation_first": frame(0x80, b"x"),
    "ping_126": frame(0x89, b"p" * 126),
    "len64_top_bit": bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1]) + MASK + b"\x00",
    "too_big": frame(0x82, b"z" * 2000),
    "pong_then_text": frame(0x8A, b"") + frame(0x81, b"{\"op\":\"ping\"}"),
}

REQUEST = (
    b"GET /ws HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
)

HANDSHAKES = {
    "valid": REQUEST + b"\r\n",
    "valid_subprotocol": REQUEST + b"Sec-WebSocket-Protocol: chat, herald.v1\r\n\r\n",
    "valid_deflate": REQUEST + b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
    "origin_allowed": REQUEST + b"Origin: https://app.example.com\r\n\r\nhttps://app.example.com\n",
    "origin_denied": REQUEST + b"Origin: https://evil.example\r\n\r\nhttps://app.example.com\n",
    "post": REQUEST.replace(b"GET", b"POST", 1) + b"\r\n",
    "version_8": REQUEST.replace(b"Version: 13", b"Version: 8") + b"\r\n",
    "http_10": REQUEST.replace(b"HTTP/1.1", b"HTTP/1.0", 1) + b"\r\n",
    "no_key": REQUEST.replace(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", b"") + b"\r\n",
    "short_key": REQUEST.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"AAAA") + b"\r\n",
    "lowercase": REQUEST.lower().replace(b"get", b"GET").replace(b"http/1.1", b"HTTP/1.1") + b"\r\n",
}


def write(folder, items, prefix=b""):
    path = os.path.join(HERE, "corpus", folder)
    os.makedirs(path, exist_ok=True)
    for name, body in items.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(prefix + body)


if __name__ == "__main__":
    # Limit selector 2 (1024 bytes) and cut seed 7 for every frame seed.
    write("ws_frames", FRAMES, prefix=b"\x02\x07")
    write("ws_handshake", HANDSHAKES)
