"""Limits seen by a WebSocket client (python3-websockets): client publish rate, the
publish permission of a namespace, and the per-address connection limit.
Run by tests/with_herald.sh with --client-publish chat --client-publish-rate 5
--max-connections-per-ip 4."""
import asyncio
import json

import websockets

from interop_support import WS, check, finish


async def replies(ws, n):
    out = []
    while len(out) < n:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame.get("op") in ("published", "error"):
            out.append(frame)
    return out


async def main():
    async with websockets.connect(WS + "/ws?channel=chat:room") as ws:
        await ws.send(json.dumps({"op": "publish", "channel": "news:1", "data": 1, "ref": "x"}))
        denied = (await replies(ws, 1))[0]
        check(denied["code"] == "publish_forbidden" and denied["ref"] == "x", "publish outside client_publish refused")
        for i in range(20):
            await ws.send(json.dumps({"op": "publish", "channel": "chat:room", "data": i, "ref": i}))
        got = await replies(ws, 20)
        ok = [f for f in got if f["op"] == "published"]
        limited = [f for f in got if f.get("code") == "rate_limited"]
        # A burst of two seconds' worth (10) passes at once; the rest is refused.
        check(10 <= len(ok) <= 11, "burst allowance: %d published" % len(ok))
        check(len(ok) + len(limited) == 20, "every publish answered with its ref")
        check(sorted(f["ref"] for f in got) == list(range(20)), "refs echoed")
        await asyncio.sleep(1.1)
        await ws.send(json.dumps({"op": "publish", "channel": "chat:room", "data": "later"}))
        check((await replies(ws, 1))[0]["op"] == "published", "the bucket refills")

    # Per-address limit: 4 connections, the fifth is refused with 429.
    held = [await websockets.connect(WS + "/ws") for _ in range(4)]
    try:
        try:
            extra = await websockets.connect(WS + "/ws")
            await extra.close()
            check(False, "fifth connection accepted")
        except websockets.exceptions.InvalidStatusCode as e:
            check(e.status_code == 429, "fifth connection gets 429 (got %s)" % e.status_code)
    finally:
        for ws in held:
            await ws.close()
    await asyncio.sleep(0.3)
    async with websockets.connect(WS + "/ws") as ws:
        check(ws.open, "a slot frees when a connection closes")


asyncio.run(main())
finish("websocket limits")
