"""One slow subscriber never delays the others, under both slow-consumer policies.

On one channel: 50 fast subscribers (25 WebSocket, 25 SSE) that read everything, and
two slow ones (a WebSocket and an SSE stream on sockets with a 4 KiB receive buffer)
that never read while messages of about 8 KiB are published at a steady rate. The
kernel takes megabytes for a socket that does not read (the server's send buffer grows
to tcp_wmem's maximum, 4 MiB), so the slow ones also subscribe to a filler channel
that is published to until the server's send queues for them (in /proc/PID/net/tcp)
stop growing, plus half an outbox for "disconnect": their kernel buffers are full when
the measured run starts, and their outboxes fill during it. Asserted:
  - every fast subscriber receives every message, in order;
  - their latency in the second half of the run (the slow ones long full) is not
    worse than in the first half by more than a generous factor: compared with the
    same run, no absolute thresholds (a run beyond it is repeated once, see
    run_twice_if_needed);
  - "disconnect" (namespace plain): the slow ones are disconnected, having received
    an unbroken prefix of the messages (they resume from their cursor);
  - "latest" (namespace scores): the slow ones stay connected; when they read again
    they get stale messages, then a gap notice, then the newest message, in cursor
    order, and received + skipped = published exactly.
Run by tests/with_herald.sh with --config slow_consumer_config.json --heartbeat 60000
(the slow WebSocket never answers a ping, and a run on a loaded machine may be long).
"""
import os
import selectors
import socket
import statistics
import sys
import http.client
import json
import multiprocessing
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from raw_clients import SseClient, WsClient, address, metric, poll, publish, server_socket  # noqa: E402

BASE = os.environ["HERALD_URL"]
PID = int(os.environ["HERALD_PID"])
MAX_OUTBOX = 1 << 20  # herald's default --max-outbox
MESSAGES = 240
RATE = 60  # per second: 4 s of publishing
PAD = "x" * 8000
FILLER = "y" * 60000
# Generous: a fan-out stalled by a slow socket grows latency without bound, not by a
# few times; what varies by a few times is the load on a shared machine.
FACTORS = {"p50": 4, "p90": 6}
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def read_until(clients, done, timeout):
    """Reads the clients with one selector; calls done() after each batch."""
    sel = selectors.DefaultSelector()
    for c in clients:
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_READ, c)
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        for key, _ in sel.select(0.2):
            c = key.data
            try:
                data = c.sock.recv(1 << 18)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionResetError:
                data = b""
            now = time.time()
            if not data:
                sel.unregister(c.sock)
                c.closed = True
                continue
            for kind, ev in c.feed(data):
                if kind == "message":
                    # Keep no padding: 12,000 retained 8 KB strings would make the
                    # collector's pauses, and so the measured latency, grow with time.
                    ev = {"channel": ev["channel"], "id": ev["id"],
                          "data": {k: v for k, v in ev["data"].items() if k != "pad"}}
                c.events.append((now, kind, ev))
    sel.close()


def publisher(channel):
    """Publishes at a steady RATE over one keep-alive connection."""
    conn = http.client.HTTPConnection(*address(BASE))
    start = time.monotonic()
    for i in range(MESSAGES):
        time.sleep(max(0.0, start + i / RATE - time.monotonic()))
        body = json.dumps({"channel": channel, "data": {"seq": i, "t": time.time(), "pad": PAD}})
        conn.request("POST", "/api/publish", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit("publish answered %d" % r.status)
    conn.close()


def fill_kernel(slow, filler, policy):
    """Publishes to `filler` until the kernel takes no more for the slow sockets, then
    half an outbox more for "disconnect" (so the run, not the filler, passes the
    limit). Returns how many messages it published."""
    n, last, unchanged = 0, None, 0
    while n < 200 and unchanged < 3:
        publish(BASE, filler, {"seq": n, "pad": FILLER})
        n += 1
        time.sleep(0.03)
        queued = [server_socket(PID, BASE, c.sock)[1] for c in slow]
        unchanged = unchanged + 1 if queued == last else 0
        last = queued
    print("     filler: kernel send queues full at %s bytes after %d messages" % (last, n))
    if policy == "disconnect":
        for _ in range(MAX_OUTBOX // 2 // len(FILLER) - unchanged):
            publish(BASE, filler, {"seq": n, "pad": FILLER})
            n += 1
    time.sleep(0.3)
    return n


def run(policy, channel, filler, last_attempt):
    print("--- %s (%s)" % (policy, channel))
    fast = [WsClient(BASE, [channel]) if i % 2 == 0 else SseClient(BASE, [channel]) for i in range(50)]
    for c in fast:
        c.events, c.closed = [], False
    read_until(fast, lambda: all(any(k == "subscribed" for _, k, _ in c.events) for c in fast), 20)
    check(all(any(k == "subscribed" for _, k, _ in c.events) for c in fast), "50 fast subscribers subscribed")
    slow = [WsClient(BASE, [channel, filler], rcvbuf=4096), SseClient(BASE, [channel, filler], rcvbuf=4096)]
    for c in slow:
        c.events, c.closed = [], False
    time.sleep(0.3)  # the slow ones' requests are taken over before the first message
    filler_messages = fill_kernel(slow, filler, policy)
    drops_before = metric(BASE, "herald_slow_consumer_drops_total")
    conflated_before = metric(BASE, "herald_conflated_messages_total")

    # The publisher is a process of its own, so the readers here never wait for it.
    pub = multiprocessing.Process(target=publisher, args=(channel,))
    pub.start()

    def got_all():
        return all(sum(1 for _, k, _ in c.events if k == "message") >= MESSAGES for c in fast)

    read_until(fast, got_all, MESSAGES / RATE + 30)
    pub.join()
    check(pub.exitcode == 0, "every publish answered 200")

    in_order = all([ev["data"]["seq"] for _, k, ev in c.events if k == "message"] == list(range(MESSAGES))
                   for c in fast)
    check(in_order, "every fast subscriber received all %d messages in order" % MESSAGES)
    check(not any(c.closed for c in fast), "no fast subscriber was disconnected")
    check(all(k != "gap" for c in fast for _, k, _ in c.events), "no fast subscriber was conflated")

    half = MESSAGES // 2
    first, second = [], []
    for c in fast:
        for at, k, ev in c.events:
            if k == "message":
                (first if ev["data"]["seq"] < half else second).append((at - ev["data"]["t"]) * 1000)
    flat = True
    for name, q in (("p50", 0.5), ("p90", 0.9)):
        factor = FACTORS[name]
        a = statistics.quantiles(first, n=100)[int(q * 100) - 1]
        b = statistics.quantiles(second, n=100)[int(q * 100) - 1]
        print("     fast subscribers' latency %s: first half %.2f ms, second half %.2f ms" % (name, a, b))
        if last_attempt:
            check(b <= factor * a, "%s latency of the second half within %dx of the first" % (name, factor))
        elif b > factor * a:
            print("     (%s latency of the second half beyond %dx of the first: run again)" % (name, factor))
            flat = False

    # Now the slow ones read what they were sent.
    def slow_done():
        for c in slow:
            msgs = [ev for _, k, ev in c.events if k == "message"]
            if not c.closed and not (msgs and msgs[-1]["data"]["seq"] == MESSAGES - 1):
                return False
        return True

    read_until(slow, slow_done, 20)
    for c in slow:
        seqs = [ev["data"]["seq"] for _, k, ev in c.events if k == "message" and ev["channel"] == channel]
        gaps = [ev for _, k, ev in c.events if k == "gap" and ev["channel"] == channel]
        print("     slow %s: %d messages, last %s, gaps %s, closed %s"
              % (c.kind, len(seqs), seqs[-1] if seqs else None, [g["skipped"] for g in gaps], c.closed))
        if policy == "disconnect":
            check(c.closed, "slow %s disconnected" % c.kind)
            fill_seqs = [ev["data"]["seq"] for _, k, ev in c.events if k == "message" and ev["channel"] == filler]
            check(seqs == list(range(len(seqs))) and len(seqs) < MESSAGES and
                  fill_seqs == list(range(len(fill_seqs))) and len(fill_seqs) <= filler_messages,
                  "slow %s got an unbroken prefix of each channel before the disconnect (%d filler messages)"
                  % (c.kind, len(fill_seqs)))
            check(not gaps, "no gap notice under disconnect")
        else:
            check(not c.closed, "slow %s stays connected" % c.kind)
            check(seqs == sorted(set(seqs)), "slow %s: cursor order, no duplicate" % c.kind)
            check(bool(seqs) and seqs[-1] == MESSAGES - 1, "slow %s got the newest message" % c.kind)
            check(bool(gaps), "slow %s got a gap notice" % c.kind)
            check(len(seqs) + sum(g["skipped"] for g in gaps) == MESSAGES,
                  "slow %s: received + skipped = published" % c.kind)
            fill = [ev for _, k, ev in c.events if k in ("message", "gap") and ev["channel"] == filler]
            check(sum(1 if "id" in ev else ev["skipped"] for ev in fill) == filler_messages,
                  "slow %s: filler received + skipped = published" % c.kind)
            check(len(seqs) < MESSAGES // 2, "slow %s did not get a backlog" % c.kind)
            # Each gap notice comes right before the message that replaced the skipped ones.
            kinds = [k for _, k, _ in c.events if k in ("message", "gap")]
            check(all(kinds[i + 1] == "message" for i, k in enumerate(kinds) if k == "gap"),
                  "slow %s: every gap notice is followed by a message" % c.kind)
    drops = metric(BASE, "herald_slow_consumer_drops_total") - drops_before
    conflated = metric(BASE, "herald_conflated_messages_total") - conflated_before
    if policy == "disconnect":
        check(drops == 2, "herald_slow_consumer_drops_total counted both (%d)" % drops)
    else:
        skipped = sum(ev["skipped"] for c in slow for _, k, ev in c.events if k == "gap")
        check(drops == 0, "no slow-consumer drop under latest")
        check(conflated == skipped, "herald_conflated_messages_total = skipped (%d, %d)" % (conflated, skipped))
    for c in fast + slow:
        c.sock.close()
    return flat


def run_twice_if_needed(policy, channel, filler):
    """Every assertion but the latency comparison holds on each run. A latency spike
    on a shared machine rarely comes twice; a slow subscriber that delays the others
    does so every time: the comparison fails only if a second run shows it too."""
    if not run(policy, channel, filler, last_attempt=False):
        run(policy, channel + "-again", filler + "-again", last_attempt=True)


def long_poll():
    """Long-poll replays from its cursor, so it never queues a backlog; "latest" caps
    an answer instead: past 64 KiB of envelopes, a latest channel's newest only."""
    print("--- latest over long-poll")
    since = publish(BASE, "scores:lp", {"seq": -1})
    ids = {"scores:lp": [], "plain:lp": []}
    for i in range(40):
        ids["scores:lp"].append(publish(BASE, "scores:lp", {"seq": i, "pad": PAD}))
        if i % 10 == 0:
            ids["plain:lp"].append(publish(BASE, "plain:lp", {"seq": i, "pad": PAD}))
    conflated_before = metric(BASE, "herald_conflated_messages_total")
    body = poll(BASE, ["scores:lp", "plain:lp"], since=since, timeout=0)
    got = [(m["channel"], m["id"]) for m in body["messages"]]
    check(got == sorted([("plain:lp", i) for i in ids["plain:lp"]] + [("scores:lp", ids["scores:lp"][-1])],
                        key=lambda p: int(p[1].rsplit("-", 1)[1])),
          "a poll far behind gets every disconnect-channel message and the latest channel's newest, in order")
    check(body.get("skipped") == {"scores:lp": 39}, "the answer says 39 skipped on scores:lp (%s)" % body.get("skipped"))
    check(body["cursor"] == ids["scores:lp"][-1] and body["recovered"] is True, "cursor is the newest, recovered")
    check(metric(BASE, "herald_conflated_messages_total") - conflated_before == 39, "conflated metric counts 39")
    small = [publish(BASE, "scores:lp", {"seq": i}) for i in range(3)]
    body = poll(BASE, ["scores:lp"], since=ids["scores:lp"][-1], timeout=0)
    check([m["id"] for m in body["messages"]] == small and "skipped" not in body,
          "a poll with a small backlog gets every message, no skipped")

    # A held poll answers with what its loop round brought: the same cap applies.
    result = {}
    holder = threading.Thread(target=lambda: result.update(poll(BASE, ["scores:lp"], since=small[-1], timeout=10)))
    holder.start()
    time.sleep(0.5)
    req = urllib.request.Request(BASE + "/api/publish", data=json.dumps(
        [{"channel": "scores:lp", "data": {"seq": i, "pad": PAD}} for i in range(30)]).encode())
    with urllib.request.urlopen(req, timeout=10) as r:
        batch_ids = json.loads(r.read())["ids"]
    holder.join()
    answered = [m["id"] for m in result.get("messages", [])]
    upto = batch_ids.index(result["cursor"]) + 1 if result.get("cursor") in batch_ids else -1
    skipped = result.get("skipped", {}).get("scores:lp", 0)
    print("     held poll: %d messages, %d skipped, cursor at batch message %d" % (len(answered), skipped, upto))
    check(upto > 0 and answered and answered[-1] == batch_ids[upto - 1], "held poll ends with its newest message")
    check(len(answered) + skipped == upto, "held poll: received + skipped = messages up to its cursor")


run_twice_if_needed("disconnect", "plain:ticker", "plain:filler")
run_twice_if_needed("latest", "scores:ticker", "scores:filler")
long_poll()
if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("all passed")
