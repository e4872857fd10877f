"""What the Python interop scripts share: the herald under test (HERALD_URL, set by
tests/with_herald.sh), failures collected without stopping at the first, and
publishing through the HTTP API."""
import json
import os
import sys
import urllib.request

BASE = os.environ["HERALD_URL"]
WS = BASE.replace("http://", "ws://")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def publish(channel, data):
    """Publishes one message; returns its id."""
    req = urllib.request.Request(BASE + "/api/publish", data=json.dumps({"channel": channel, "data": data}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)["id"]


def finish(name):
    """Prints the count and exits non-zero when any check failed."""
    print("%s: %d failures" % (name, len(failures)))
    sys.exit(1 if failures else 0)
