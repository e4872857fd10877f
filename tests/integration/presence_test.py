"""Presence and live counts on one node, over every transport, with real clients
(python3-websockets, raw SSE and long-poll over HTTP). Run by tests/with_herald.sh with
--token-secret presence-secret --publish-key backend --config presence_config.json
--presence-linger 300 --client-publish room."""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import urllib.error
import urllib.request

import websockets

BASE = os.environ["HERALD_URL"]
WS = BASE.replace("http://", "ws://")
HOST, PORT = BASE.replace("http://", "").split(":")
SECRET = b"presence-secret"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    else:
        print("ok:", what)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(sub=None, info=None, channels=None):
    claims = {}
    if sub is not None:
        claims["sub"] = sub
    if info is not None:
        claims["info"] = info
    if channels is not None:
        claims["channels"] = channels
    signing = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
    return signing + "." + b64(hmac.new(SECRET, signing.encode(), hashlib.sha256).digest())


def get(path, bearer=None):
    req = urllib.request.Request(BASE + path, headers={"Authorization": "Bearer " + bearer} if bearer else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


class Sse:
    """An SSE stream over HTTP/1.0 (no chunking), its events collected as they come."""

    def __init__(self, query, tok):
        self.query, self.token, self.events, self.status = query, tok, [], None
        self.changed = asyncio.Event()

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(HOST, int(PORT))
        self.writer.write(("GET /sse?%s&token=%s HTTP/1.0\r\nHost: x\r\n\r\n" % (self.query, self.token)).encode())
        status = await self.reader.readline()
        self.status = int(status.split()[1])
        while (await self.reader.readline()) not in (b"\r\n", b""):
            pass
        self.task = asyncio.create_task(self.read())
        return self

    async def read(self):
        event, data = "message", None
        while True:
            line = await self.reader.readline()
            if not line:
                return
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "":
                if data is not None:
                    self.events.append((event, json.loads(data)))
                    self.changed.set()
                event, data = "message", None

    def of(self, kind):
        return [d for e, d in self.events if e == kind]

    async def wait(self, pred, timeout=5):
        end = asyncio.get_event_loop().time() + timeout
        while not pred():
            self.changed.clear()
            left = end - asyncio.get_event_loop().time()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                return False
        return True

    def close(self):
        self.task.cancel()
        self.writer.close()


async def poll(query, tok, timeout=5):
    """One long-poll; returns (status, body)."""
    reader, writer = await asyncio.open_connection(HOST, int(PORT))
    writer.write(("GET /poll?%s&timeout=%s&token=%s HTTP/1.0\r\nHost: x\r\n\r\n" % (query, timeout, tok)).encode())
    raw = await asyncio.wait_for(reader.read(), timeout + 5)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


class Ws:
    def __init__(self, ws):
        self.ws, self.frames = ws, []

    async def pump(self, timeout):
        try:
            while True:
                self.frames.append(json.loads(await asyncio.wait_for(self.ws.recv(), timeout)))
        except asyncio.TimeoutError:
            pass

    async def wait(self, pred, timeout=5):
        end = asyncio.get_event_loop().time() + timeout
        while not pred():
            left = end - asyncio.get_event_loop().time()
            if left <= 0:
                return False
            try:
                self.frames.append(json.loads(await asyncio.wait_for(self.ws.recv(), left)))
            except asyncio.TimeoutError:
                return False
        return True

    def ops(self, op, user=None):
        return [f for f in self.frames if f.get("op") == op and (user is None or f.get("user") == user)]


async def main():
    ann, bob, lp, watcher = (token("ann", {"name": "Ann"}), token("bob"), token("lp", {"via": "poll"}),
                             token("watcher"))
    # The WebSocket watcher joins first and sees its own join.
    w = Ws(await websockets.connect(WS + "/ws?channel=room:1&token=" + watcher))
    check(await w.wait(lambda: w.ops("join", "watcher")), "a WebSocket subscriber sees its own join")

    # SSE: ann joins with her info; the watcher sees it as its own op; ann sees her join as an SSE event.
    s1 = await Sse("channel=room:1", ann).open()
    check(s1.status == 200, "SSE with a token opens a presence channel")
    check(await w.wait(lambda: w.ops("join", "ann")), "WebSocket gets {op:join} for an SSE subscriber")
    j = w.ops("join", "ann")[0]
    check(j["channel"] == "room:1" and j["info"] == {"name": "Ann"}, "join carries channel and the token's info")
    check(await s1.wait(lambda: any(d["user"] == "ann" for d in s1.of("join"))), "SSE gets `event: join`")
    check(not s1.of("message"), "presence events are not messages on SSE")

    # A second connection of the same user: no second join.
    s2 = await Sse("channel=room:1", ann).open()
    await s2.wait(lambda: False, 0.5)
    await w.pump(0.3)
    check(len(w.ops("join", "ann")) == 1, "one user with two connections joins once")

    status, body = get("/api/presence?channel=room:1", bob)
    check(status == 200, "GET /api/presence with a token")
    check({m["user"]: m["info"] for m in body["members"]} == {"ann": {"name": "Ann"}, "watcher": None},
          "the presence list: users with their info (%s)" % body)
    check(body["count"] == 2 and body["channel"] == "room:1", "count and channel in the list")

    # Live counts: 3 subscriptions of room:1 (watcher, ann twice); room:2 has one.
    bob_ws = Ws(await websockets.connect(WS + "/ws?channel=room:2&token=" + bob))
    await bob_ws.wait(lambda: bob_ws.ops("join", "bob"))
    status, body = get("/api/channels?prefix=room:")
    check(status == 200 and body == {"channels": [{"channel": "room:1", "subscribers": 3},
                                                  {"channel": "room:2", "subscribers": 1}], "truncated": False},
          "GET /api/channels counts subscribers per channel (%s)" % body)
    status, body = get("/api/channels?prefix=room:&limit=1")
    check(body["truncated"] is True and len(body["channels"]) == 1, "limit truncates the channel list")
    status, body = get("/api/channels?prefix=nope")
    check(status == 200 and body["channels"] == [], "no channel with that prefix")
    status, body = get("/api/channels?prefix=bad%20prefix")
    check(status == 400 and body["error"]["code"] == "invalid_prefix", "a bad prefix is refused")

    # Long-poll: a held poll hears its own join as an entry of `presence`, not of `messages`.
    status, body = await poll("channel=room:1", lp)
    check(status == 200 and body["messages"] == [], "long-poll answered with no message")
    check([(p["type"], p["user"], p["info"]) for p in body.get("presence", [])] == [("join", "lp", {"via": "poll"})],
          "long-poll answer carries the join in `presence` (%s)" % body)
    check(await w.wait(lambda: w.ops("join", "lp")), "WebSocket sees the long-poll client join")
    cursor = body["cursor"]

    # An SSE watcher, for the long-poll client's leave later.
    s3 = await Sse("channel=room:1", bob).open()
    check(await s3.wait(lambda: any(d["user"] == "bob" for d in s3.of("join"))), "SSE sees its own join")

    # ann leaves (both connections closed): one leave, after the linger, to every transport.
    held = asyncio.create_task(poll("channel=room:1&since=" + cursor, lp, timeout=10))
    await asyncio.sleep(0.3)
    s1.close()
    s2.close()
    check(await w.wait(lambda: w.ops("leave", "ann")), "WebSocket gets {op:leave} when the last connection goes")
    status, body = await held
    check(status == 200 and [(p["type"], p["user"]) for p in body.get("presence", [])] == [("leave", "ann")],
          "a held long-poll answers with the leave (%s)" % body)
    check(body["cursor"] == cursor, "a presence-only answer keeps the cursor")
    await w.pump(0.3)
    check(len(w.ops("leave", "ann")) == 1, "one leave")

    # The long-poll client stops polling: it leaves once the linger passes.
    check(await s3.wait(lambda: any(d["user"] == "lp" for d in s3.of("leave")), 5),
          "SSE gets `event: leave` once a long-poll client stops polling")

    # Refusals.
    status, body = get("/api/presence?channel=news:1", bob)
    check(status == 400 and body["error"]["code"] == "presence_disabled", "no presence list where it is off")
    status, body = get("/api/presence", bob)
    check(status == 400 and body["error"]["code"] == "missing_channel", "the channel is required")
    status, body = get("/api/presence?channel=vip:1", bob)
    check(status == 403, "a private presence channel's list needs read rights (%s)" % status)
    status, body = get("/api/presence?channel=vip:1", token("carl", channels=["vip:*"]))
    check(status == 200 and body["members"] == [], "... which a token with the channel has")
    status, body = get("/api/presence?channel=vip:1", "backend")
    check(status == 200, "... and so does the publish key")
    status, body = get("/api/presence?channel=vip:1")
    check(status == 401, "no credentials for a private channel: 401")
    for path in ("/sse?channel=room:1", "/poll?channel=room:1&timeout=0"):
        status, body = get(path)
        check(status == 401 and body["error"]["code"] == "token_required", "anonymous %s refused" % path)
    status, body = get("/sse?channel=room:1&token=" + token(None, {"x": 1}))
    check(status == 401, "a token without sub cannot join a presence channel")
    try:
        await websockets.connect(WS + "/ws?channel=room:1")
        check(False, "anonymous WebSocket accepted on a presence channel")
    except websockets.exceptions.InvalidStatusCode as e:
        check(e.status_code == 401, "anonymous WebSocket handshake refused with 401")
    await w.ws.send(json.dumps({"op": "subscribe", "channel": "room:9", "token": token("")}))
    await w.ws.send(json.dumps({"op": "subscribe", "channel": "room:9", "token": "x.y.z", "ref": 7}))
    check(await w.wait(lambda: len(w.ops("error")) >= 2), "WebSocket subscribe refusals")
    errors = w.ops("error")
    check(errors[0]["code"] == "token_required" and errors[1]["ref"] == 7, "refusals say why, with the ref")

    # Acknowledged client publish: the id in `published` is the message's id.
    await w.ws.send(json.dumps({"op": "subscribe", "channel": "room:1", "token": watcher}))
    await w.ws.send(json.dumps({"op": "publish", "channel": "room:1", "data": {"t": "hi"}, "ref": "p1"}))
    check(await w.wait(lambda: w.ops("published") and w.ops("message")), "publish acknowledged and delivered")
    ack, msg = w.ops("published")[0], w.ops("message")[0]
    check(ack["ref"] == "p1" and ack["id"] == msg["id"], "the ack's id is the delivered message's id")

    metrics = urllib.request.urlopen(BASE + "/metrics", timeout=5).read().decode()
    check("herald_presence_entries " in metrics, "presence metrics exported")
    s3.close()
    await w.ws.close()
    await bob_ws.ws.close()


asyncio.run(main())
print("presence: %d failures" % len(failures))
sys.exit(1 if failures else 0)
