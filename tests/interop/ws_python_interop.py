"""Herald's WebSocket against the Python `websockets` library (Debian python3-websockets),
plus the same messages over SSE and long-poll: the envelopes must be identical.
Run with HERALD_URL set (tests/with_herald.sh does it)."""
import asyncio
import json
import threading
import urllib.request

import websockets

from interop_support import BASE, WS, check, finish, publish


async def next_op(ws, op, timeout=5):
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame.get("op") == op:
            return frame


async def subscribe_receive_resume_close():
    async with websockets.connect(WS + "/ws?channel=py:a", subprotocols=["herald.v1"]) as ws:
        check(ws.subprotocol == "herald.v1", "subprotocol herald.v1 echoed")
        sub = await next_op(ws, "subscribed")
        check(sub["channel"] == "py:a" and sub["recovered"] is True, "subscribed frame at open")
        ids = [publish("py:a", {"n": i}) for i in range(20)]
        got = [await next_op(ws, "message") for _ in range(20)]
        check([m["data"]["n"] for m in got] == list(range(20)), "20 messages in order")
        check([m["id"] for m in got] == ids, "ids match the publish answers")
        await ws.send(json.dumps({"op": "ping"}))
        check((await next_op(ws, "pong"))["op"] == "pong", "ping command answered")
        await ws.send("{broken")
        check((await next_op(ws, "error"))["code"] == "invalid_json", "bad JSON gets an error frame")
        await ws.send(json.dumps({"op": "subscribe", "channel": "py:b", "since": ids[0]}))
        check((await next_op(ws, "subscribed"))["channel"] == "py:b", "subscribe command")
        await ws.send(json.dumps({"op": "unsubscribe", "channel": "py:b"}))
        check((await next_op(ws, "unsubscribed"))["channel"] == "py:b", "unsubscribe command")
        await ws.close()
        check(ws.close_code == 1000, "clean close 1000 (got %s)" % ws.close_code)

    # Resume from the 10th message: exactly the 10 after it, nothing more.
    async with websockets.connect(WS + "/ws?channel=py:a&since=" + ids[9]) as ws:
        sub = await next_op(ws, "subscribed")
        check(sub["recovered"] is True, "resume recovered")
        got = [await next_op(ws, "message") for _ in range(10)]
        check([m["id"] for m in got] == ids[10:], "resume with since: no gap, no duplicate")
        try:
            extra = await next_op(ws, "message", timeout=0.3)
            check(False, "unexpected extra message %r" % extra)
        except asyncio.TimeoutError:
            pass


def read_sse(channel, n, out, ready):
    with urllib.request.urlopen(BASE + "/sse?channel=" + channel, timeout=10) as r:
        event = None
        for raw in r:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "subscribed":
                ready.set()
            elif line.startswith("data: ") and event == "message":
                out.append(json.loads(line[6:]))
                if len(out) == n:
                    return


async def same_envelope_on_every_transport():
    channel = "py:mixed"
    with urllib.request.urlopen(BASE + "/poll?channel=%s&timeout=0" % channel, timeout=5) as r:
        cursor = json.load(r)["cursor"]
    sse_got, ready = [], threading.Event()
    t = threading.Thread(target=read_sse, args=(channel, 5, sse_got, ready))
    t.start()
    check(ready.wait(5), "SSE subscribed")
    async with websockets.connect(WS + "/ws?channel=" + channel) as ws:
        await next_op(ws, "subscribed")
        for i in range(5):
            publish(channel, {"i": i, "text": "é ✓"})
        ws_got = []
        for _ in range(5):
            m = await next_op(ws, "message")
            del m["op"]
            ws_got.append(m)
    t.join(10)
    with urllib.request.urlopen(BASE + "/poll?channel=%s&since=%s" % (channel, cursor), timeout=5) as r:
        poll_got = json.load(r)["messages"]
    check(len(ws_got) == 5 and ws_got == sse_got == poll_got, "identical envelopes over WebSocket, SSE and long-poll")


async def main():
    await subscribe_receive_resume_close()
    await same_envelope_on_every_transport()


asyncio.run(main())
finish("python websockets interop")
