"""WebSocket liveness: herald pings every --heartbeat ms and drops a peer that leaves a
ping unanswered for --ws-pong-timeout ms, while a client that answers (python3-websockets
does, as RFC 6455 5.5.2 asks) stays subscribed and keeps receiving.
Run by tests/with_herald.sh with --heartbeat 300 --ws-pong-timeout 700."""
import asyncio
import base64
import json
import os
import socket
import time

import websockets

from interop_support import BASE, WS, check, finish, publish

HOST, PORT = BASE.replace("http://", "").split(":")
PONG_TIMEOUT = 0.7


def read_frame(sock):
    """One unmasked server frame: (opcode, payload); None at the end of the stream."""
    def exactly(n):
        out = b""
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            if not chunk:
                return None
            out += chunk
        return out
    head = exactly(2)
    if head is None:
        return None
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(exactly(2), "big")
    elif length == 127:
        length = int.from_bytes(exactly(8), "big")
    return head[0] & 0x0F, exactly(length)


def silent_peer():
    """Upgrades, then never answers: herald must close it once the pong is overdue."""
    sock = socket.create_connection((HOST, int(PORT)), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET /ws?channel=live HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (HOST, PORT, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    check(head.startswith(b"HTTP/1.1 101"), "silent peer upgraded (%r)" % head[:40])
    pinged_at = None
    try:
        while True:
            frame = read_frame(sock)
            if frame is None:
                break
            if frame[0] == 0x9 and pinged_at is None:
                pinged_at = time.monotonic()
    except ConnectionResetError:
        pass
    except socket.timeout:
        check(False, "silent peer still connected 10 s after its last frame")
    closed_at = time.monotonic()
    sock.close()
    check(pinged_at is not None, "silent peer was pinged")
    if pinged_at is not None:
        waited = closed_at - pinged_at
        # Not before the deadline; after it within a few of herald's 250 ms ticks.
        print("silent peer dropped %.2f s after its first ping" % waited)
        check(PONG_TIMEOUT * 0.9 <= waited <= PONG_TIMEOUT + 3, "dropped %.2f s after the ping" % waited)


async def answering_client():
    """Answers pings (websockets does it by itself) and is kept well past the timeout."""
    async with websockets.connect(WS + "/ws?channel=live", ping_interval=None) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        check(first.get("op") == "subscribed", "subscribed (%s)" % first)
        await asyncio.sleep(PONG_TIMEOUT * 5)
        sent = publish("live", "still here")
        got = json.loads(await asyncio.wait_for(ws.recv(), 5))
        check(got.get("op") == "message" and got.get("id") == sent, "answering client still delivered to")


async def main():
    silent = asyncio.get_running_loop().run_in_executor(None, silent_peer)
    await answering_client()
    await silent


asyncio.run(main())
finish("websocket liveness")
