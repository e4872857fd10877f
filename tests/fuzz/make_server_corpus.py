#!/usr/bin/env python3
"""Writes the seed corpora of the in-process and token fuzzers (tests/fuzz/corpus/
{ws_commands,publish_body,query,token,namespaces}/). The seeds are committed; rerun
this only to change them. Input layouts are described at the top of each
fuzz_<target>.cpp; tokens are signed with the fuzzers' fixed secret "fuzz-secret".
"""
import base64
import hashlib
import hmac
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = b"fuzz-secret"


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token(claims, header='{"alg":"HS256","typ":"JWT"}', secret=SECRET):
    claims = claims if isinstance(claims, str) else json.dumps(claims, separators=(",", ":"))
    signing = b64(header.encode()) + "." + b64(claims.encode())
    return signing + "." + b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


FULL = token({"sub": "fuzz", "channels": ["*"], "publish": ["*"]})
PRIV = token({"sub": "u1", "channels": ["priv:*"], "exp": 4102444800})
EXPIRED = token({"sub": "u1", "channels": ["*"], "exp": 1000})
NONE_ALG = token({"channels": ["*"]}, header='{"alg":"none"}')


def write(target, seeds):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())


def lines(flags, *commands):
    return bytes([flags]) + "\n".join(json.dumps(c) if not isinstance(c, str) else c for c in commands).encode()


write("ws_commands", {
    "ping": lines(0, {"op": "ping", "ref": 1}),
    "subscribe_publish": lines(4, {"op": "subscribe", "channel": "chat:a", "ref": "s"},
                               {"op": "publish", "channel": "chat:a", "data": {"x": 1}, "ref": 2}),
    "resume": lines(1, {"op": "subscribe", "channel": "score:x", "since": "m00000000-3"},
                    {"op": "unsubscribe", "channel": "score:x"}),
    "private_token": lines(0, {"op": "subscribe", "channel": "priv:a", "token": PRIV}),
    "private_expired": lines(1, {"op": "subscribe", "channel": "priv:a", "token": EXPIRED}),
    "publish_denied": lines(0, {"op": "publish", "channel": "news", "data": 1}),
    "publish_token": lines(8, {"op": "publish", "channel": "news", "data": [1, "two"], "token": FULL}),
    "rate": lines(0, *([{"op": "publish", "channel": "chat:r", "data": 0}] * 50)),
    "bad": lines(2, "{", "[]", '{"op":7}', '{"op":"subscribe"}', '{"op":"subscribe","channel":"a b"}',
                 '{"op":"subscribe","channel":"a","since":5}', '{"op":"nope","channel":"a"}',
                 '{"op":"unsubscribe","channel":"a"}', '{"op":"publish","channel":"chat:a"}'),
    "drain": lines(2 | 4, {"op": "subscribe", "channel": "chat:b"}),
})

write("publish_body", {
    "one": b"\x00" + b'{"channel":"news","data":{"a":1}}',
    "batch": b"\x00" + b'[{"channel":"a","data":1},{"channel":"score:b","data":"s"}]',
    "token": b"\x01" + b'{"channel":"priv:x","data":null}',
    "anonymous": b"\x02" + b'{"channel":"news","data":1}',
    "wrong_key": b"\x03" + b'{"channel":"news","data":1}',
    "empty_batch": b"\x00[]",
    "bad_items": b"\x00" + b'[1,{"channel":5},{"channel":"a"},{"channel":"a b","data":1}]',
    "invalid_utf8": b"\x00" + b'{"channel":"a","data":"\xff\xfe"}',
    "deep": b"\x00" + b"[" * 200 + b"]" * 200,
})

write("query", {
    "sse": b"\x00channel=news&channel=score:a&since=m00000000-1",
    "sse_token": ("\x00channel=priv:a&token=" + PRIV).encode(),
    "sse_expired": ("\x04channel=priv:a&token=" + EXPIRED).encode(),
    "poll": b"\x01channel=news&timeout=1&since=m00000000-5",
    "poll_jsonp": b"\x09channel=news&callback=cb.x&timeout=0",
    "ws": b"\x02channel=chat:a&channel=news&since=",
    "ws_token": ("\x02channel=priv:x&token=" + NONE_ALG).encode(),
    "last_event_id": b"\x03m00000000-9\nchannel=a",
    "many": ("\x00" + "&".join("channel=c%d" % i for i in range(130))).encode(),
    "escapes": b"\x00channel=%zz&channel=a%00b&since=%ff",
})

write("token", {
    "full": FULL, "private": PRIV, "expired": EXPIRED, "alg_none": NONE_ALG,
    "two_parts": "eyJhbGciOiJIUzI1NiJ9.e30", "claims_exp_float": '{"exp":1e300}',
    "claims_exp_frac": '{"exp":4102444800.5,"channels":["a*"]}', "claims_bad": '{"channels":"x","publish":[1]}',
    "claims_info": '{"sub":"s","info":{"name":"n","tags":[1,2]}}', "claims_array": "[1,2]",
})

write("namespaces", {
    "full": json.dumps({"default": {"history": 10, "history_age": 60},
                        "namespaces": {"priv": {"private": True}, "chat": {"client_publish": True},
                                       "score": {"history": 5, "slow_consumer": "disconnect"}}}),
    "bad_values": '{"namespaces":{"a":{"history":0,"history_age":-1,"private":"yes"}}}',
    "bad_names": '{"namespaces":{"a:b":{},"":{}}}',
    "huge": '{"default":{"history":18446744073709551615,"history_age":9223372036854775808}}',
    "not_object": "[]",
})
