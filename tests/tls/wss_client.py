#!/usr/bin/python3
"""A wss:// client for the tls test: python3-websockets over an SSL context that
trusts only the test's certificate (and checks the host name).

    wss_client.py URL CA_FILE COUNT

Prints one JSON line per frame received ({"op":..,"id":..,"sha256":.., "len":..}
for messages, the data hashed so the runner can compare large payloads), then
after COUNT messages closes with 1000 and prints {"closed":code,"reason":..,"by":"client"}.
If the server closes first it prints {"closed":code,"reason":..,"by":"server"}.
COUNT 0 waits for the server to close."""
import asyncio
import hashlib
import json
import ssl
import sys

import websockets


def emit(obj):
    print(json.dumps(obj), flush=True)


async def main(url, ca_file, count):
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    received = 0
    async with websockets.connect(url, ssl=ctx, max_size=None, open_timeout=10) as ws:
        emit({"open": True, "tls": ws.transport.get_extra_info("ssl_object").version()})
        try:
            while count == 0 or received < count:
                frame = json.loads(await ws.recv())
                out = {"op": frame.get("op"), "id": frame.get("id") or frame.get("cursor")}
                if frame.get("op") == "message":
                    received += 1
                    data = frame["data"]
                    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
                    out.update(len=len(text), sha256=hashlib.sha256(text.encode()).hexdigest())
                emit(out)
        except websockets.ConnectionClosed:
            emit({"closed": ws.close_code, "reason": ws.close_reason, "by": "server"})
            return
        await ws.close(1000, "done")
        emit({"closed": ws.close_code, "reason": ws.close_reason, "by": "client"})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
