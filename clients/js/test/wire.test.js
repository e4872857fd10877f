'use strict';
// The real transports against stand-ins for WebSocket, XMLHttpRequest and a
// JSONP-capable document: URLs, frames, the event-stream parser, publish.
const test = require('node:test');
const assert = require('node:assert');
const { Herald, FakeClock, FakeWebSocket, FakeXHR, fakeDom, ids } = require('./fakes.js');

function client(base, options, envExtra) {
  FakeWebSocket.instances = [];
  FakeXHR.instances = [];
  const clock = new FakeClock();
  const h = new Herald(base, {
    timers: clock,
    random: () => 0.5,
    env: { WebSocket: undefined, XMLHttpRequest: undefined, document: undefined, window: undefined, fetch: undefined, sessionStorage: null, ...envExtra },
    ...options,
  });
  const events = { state: [], transport: [], gap: [], error: [] };
  for (const k of Object.keys(events)) h.on(k, (v) => events[k].push(v));
  const got = [];
  return { h, clock, events, got, collect: (m) => got.push(m) };
}

test('WebSocket: URL, subprotocol, ping and per-channel subscribe after open, frames in', () => {
  const { h, clock, events, got, collect } = client('https://h.test:8443/', { transports: ['websocket'], token: 't k' }, { WebSocket: FakeWebSocket });
  h.subscribe('scores:m1', collect, { since: 'e1-5' });
  h.subscribe('b', collect);
  clock.tick(0);
  const ws = FakeWebSocket.instances[0];
  assert.strictEqual(ws.url, 'wss://h.test:8443/ws?token=t%20k');
  assert.strictEqual(ws.protocol, 'herald.v1');
  assert.deepStrictEqual(ws.sent, []);
  ws.serverOpen();
  assert.deepStrictEqual(ws.sent, [
    { op: 'ping' },
    { op: 'subscribe', channel: 'scores:m1', since: 'e1-5' },
    { op: 'subscribe', channel: 'b' },
  ]);
  ws.serverSend({ op: 'subscribed', channel: 'scores:m1', recovered: true, cursor: 'e1-7' });
  assert.strictEqual(h.state(), 'connected');
  assert.deepStrictEqual(events.transport, ['websocket']);
  ws.serverSend({ op: 'message', channel: 'scores:m1', id: 'e1-6', ts: 42, data: { goal: 1 } });
  assert.deepStrictEqual(got, [{ channel: 'scores:m1', id: 'e1-6', ts: 42, data: { goal: 1 } }]);
  ws.serverSend({ op: 'error', code: 'bad_channel', message: 'channel name too long' });
  assert.strictEqual(events.error[0].code, 'bad_channel');
  ws.serverSend('not json');
  const sub = h.subscribe('c', collect);
  clock.tick(0);
  sub.unsubscribe();
  assert.deepStrictEqual(ws.sent.slice(3), [{ op: 'subscribe', channel: 'c' }, { op: 'unsubscribe', channel: 'c' }]);
  clock.tick(20000);
  assert.deepStrictEqual(ws.sent[ws.sent.length - 1], { op: 'ping' });
  ws.serverClose(1006);
  assert.strictEqual(h.state(), 'disconnected');
  assert.strictEqual(events.error[events.error.length - 1].code, 'ws_closed');
  clock.tick(clock.pending()[0]);
  const ws2 = FakeWebSocket.instances[1];
  ws2.serverOpen();
  assert.deepStrictEqual(ws2.sent.slice(1, 3), [
    { op: 'subscribe', channel: 'scores:m1', since: 'e1-6' },
    { op: 'subscribe', channel: 'b' },
  ]);
});

test('WebSocket: wsProtocol null offers no subprotocol; a throwing constructor falls through', () => {
  let { h, clock } = client('http://h.test', { transports: ['websocket'], wsProtocol: null }, { WebSocket: FakeWebSocket });
  h.subscribe('a', () => {});
  clock.tick(0);
  assert.strictEqual(FakeWebSocket.instances[0].protocol, undefined);
  assert.strictEqual(FakeWebSocket.instances[0].url, 'ws://h.test/ws');

  function Broken() { throw new Error('blocked by CSP'); }
  const c = client('http://h.test', { transports: ['websocket', 'sse'] }, { WebSocket: Broken, XMLHttpRequest: FakeXHR });
  c.h.subscribe('a', () => {});
  c.clock.tick(0);
  assert.strictEqual(FakeXHR.instances.length, 1, 'SSE opened after the WebSocket failure');
  assert.strictEqual(c.events.error[0].message, 'blocked by CSP');
});

test('SSE over XHR streaming: URL, padding, split chunks, CRLF, heartbeats, end of stream', () => {
  const { h, clock, events, got, collect } = client('http://h.test', { transports: ['sse'], idleTimeout: 30000 }, { XMLHttpRequest: FakeXHR });
  h.subscribe('scores:m1', collect, { since: 'e1-3' });
  h.subscribe('b', collect);
  clock.tick(0);
  const x = FakeXHR.instances[0];
  assert.strictEqual(x.method, 'GET');
  assert.strictEqual(x.url, 'http://h.test/sse?channel=scores%3Am1&channel=b&since=e1-3&padding=1');
  x.stream(':' + ' '.repeat(2048) + '\n\n');
  assert.strictEqual(h.state(), 'connecting', 'a comment alone does not prove the stream');
  x.stream('event: subscribed\r\ndata: {"channels":["scores:m1","b"],"recovered":true,"cursor":"e1-5"}\r\n\r\n');
  assert.strictEqual(h.state(), 'connected');
  x.stream('id: e1-4\nevent: message\ndata: {"channel":"scores:m1","id":"e1-4","ts":1,');
  x.stream('"data":"hi"}\r');
  assert.strictEqual(got.length, 0);
  x.stream('\n\r\n');
  assert.deepStrictEqual(ids(got), ['e1-4']);
  for (let i = 0; i < 3; i++) {                     // heartbeats keep it alive past idleTimeout
    clock.tick(20000);
    x.stream(': hb\n');
  }
  assert.strictEqual(h.state(), 'connected');
  x.stream('event: message\nid: e1-6\ndata: {"channel":"b","ts":2,"data":null}\n\n');
  assert.deepStrictEqual(ids(got), ['e1-4', 'e1-6'], 'id taken from the SSE id field when the envelope lacks it');
  x.respond(200, '');
  assert.strictEqual(h.state(), 'disconnected');
  assert.strictEqual(events.error[0].code, 'sse_ended');
  clock.tick(clock.pending()[0]);
  assert.strictEqual(FakeXHR.instances[1].url, 'http://h.test/sse?channel=scores%3Am1&channel=b&since=e1-6&padding=1');
});

// Node has ReadableStream, TextDecoder and AbortController, as browsers do where
// fetch bodies stream; the fake fetch hands the client a body the test writes to.
const flush = async () => { for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r)); };
function streamingFetch() {
  const f = { url: null, init: null, write: null, end: null };
  f.fetch = async (url, init) => {
    f.url = url;
    f.init = init;
    return { status: 200, body: new ReadableStream({ start(c) { f.write = (b) => c.enqueue(b); f.end = () => c.close(); } }) };
  };
  return f;
}
const streamEnv = (fetch) => ({ fetch, ReadableStream, TextDecoder, AbortController, XMLHttpRequest: FakeXHR });

test('SSE through fetch where bodies stream: chunks split inside a character, end of stream, abort', async () => {
  const f = streamingFetch();
  const { h, clock, events, got, collect } = client('http://h.test', { transports: ['sse'] }, streamEnv(f.fetch));
  const sub = h.subscribe('a', collect, { since: 'e1-1' });
  clock.tick(0);
  await flush();
  assert.strictEqual(FakeXHR.instances.length, 0, 'no XHR where fetch streams');
  assert.strictEqual(f.url, 'http://h.test/sse?channel=a&since=e1-1&padding=1');
  assert.strictEqual(f.init.cache, 'no-store');
  const bytes = Buffer.from('event: subscribed\ndata: {"channels":["a"],"cursor":"e1-1"}\n\n' +
    'id: e1-2\nevent: message\ndata: {"channel":"a","id":"e1-2","ts":1,"data":"é€"}\n\n');
  const cut = bytes.indexOf(Buffer.from('€')) + 1;   // inside the three bytes of '€'
  f.write(new Uint8Array(bytes.subarray(0, cut)));
  await flush();
  assert.strictEqual(h.state(), 'connected');
  assert.strictEqual(got.length, 0);
  f.write(new Uint8Array(bytes.subarray(cut)));
  await flush();
  assert.deepStrictEqual(got.map((m) => m.data), ['é€']);
  f.end();
  await flush();
  assert.strictEqual(events.error[0].code, 'sse_ended');
  assert.strictEqual(h.state(), 'disconnected');

  clock.tick(clock.pending()[0]);                   // reconnects from the cursor, then is dropped
  await flush();
  assert.strictEqual(f.url, 'http://h.test/sse?channel=a&since=e1-2&padding=1');
  const signal = f.init.signal;
  assert.strictEqual(signal.aborted, false);
  sub.unsubscribe();
  clock.tick(0);
  await flush();
  assert.strictEqual(signal.aborted, true, 'the request is aborted when the transport closes');
});

test('SSE through fetch: an HTTP error is reported with the server\'s message', async () => {
  const fetch = async () => ({ status: 401, text: async () => '{"error":{"code":"token_required","message":"channel a needs a token"}}' });
  const { h, clock, events } = client('http://h.test', { transports: ['sse'] }, streamEnv(fetch));
  h.subscribe('a', () => {});
  clock.tick(0);
  await flush();
  assert.strictEqual(events.error[0].code, 'http_401');
  assert.strictEqual(events.error[0].server, 'token_required');
  assert.strictEqual(events.error[0].message, 'channel a needs a token');
  assert.strictEqual(h.state(), 'disconnected');
});

test('SSE: an HTTP error is reported with the server\'s message', () => {
  const { h, clock, events } = client('http://h.test', { transports: ['sse'], token: 'x' }, { XMLHttpRequest: FakeXHR });
  h.subscribe('a', () => {});
  clock.tick(0);
  assert.strictEqual(FakeXHR.instances[0].url, 'http://h.test/sse?channel=a&padding=1&token=x');
  FakeXHR.instances[0].respond(403, '{"code":"forbidden","message":"token expired: fetch a new one"}');
  assert.strictEqual(events.error[0].code, 'http_403');
  assert.strictEqual(events.error[0].message, 'token expired: fetch a new one');
  assert.strictEqual(h.state(), 'disconnected');
});

test('HTTP errors in Herald\'s own shape {"error":{code,message}} are reported with its message', () => {
  const { h, clock, events } = client('http://h.test', { transports: ['sse', 'longpoll'] }, { XMLHttpRequest: FakeXHR });
  h.subscribe('bad name', () => {});
  clock.tick(0);
  const body = '{"error":{"code":"invalid_channel","message":"channel names are 1 to 128 characters"}}';
  FakeXHR.instances[0].respond(400, body);
  FakeXHR.instances[1].respond(400, body);
  assert.deepStrictEqual(events.error.map((e) => [e.transport, e.code, e.server, e.message]), [
    ['sse', 'http_400', 'invalid_channel', 'channel names are 1 to 128 characters'],
    ['longpoll', 'http_400', 'invalid_channel', 'channel names are 1 to 128 characters'],
  ]);
  const results = [];
  h.publish('bad name', 1, (err) => results.push(err));
  FakeXHR.instances[2].respond(400, body);
  assert.strictEqual(results[0].server, 'invalid_channel');
  assert.strictEqual(results[0].message, 'channel names are 1 to 128 characters');
});

test('SSE: a stream grown past maxStreamBytes is replaced by a fresh one without loss', () => {
  const { h, clock, got, collect } = client('http://h.test', { transports: ['sse'], maxStreamBytes: 300 }, { XMLHttpRequest: FakeXHR });
  h.subscribe('a', collect);
  clock.tick(0);
  const x1 = FakeXHR.instances[0];
  x1.stream('event: subscribed\ndata: {"channels":["a"],"recovered":true,"cursor":"e1-1"}\n\n');
  for (let i = 2; i <= 5; i++) x1.stream(`event: message\ndata: {"channel":"a","id":"e1-${i}","data":"${'x'.repeat(40)}"}\n\n`);
  clock.tick(0);
  const x2 = FakeXHR.instances[1];
  assert.ok(x2, 'second stream opened');
  assert.ok(x2.url.includes('since=e1-5'));
  x1.stream('event: message\ndata: {"channel":"a","id":"e1-6"}\n\n');
  x2.stream('event: subscribed\ndata: {"channels":["a"],"recovered":true,"cursor":"e1-6"}\n\n');
  assert.strictEqual(x1.aborted, true);
  x2.stream('event: message\ndata: {"channel":"a","id":"e1-6"}\n\nevent: message\ndata: {"channel":"a","id":"e1-7"}\n\n');
  assert.deepStrictEqual(ids(got), ['e1-2', 'e1-3', 'e1-4', 'e1-5', 'e1-6', 'e1-7']);
});

test('event-stream parser: multi-line data, fields without space or value, unnamed events', () => {
  const out = [];
  const comments = [];
  const p = new Herald._internal.SseParser((e, d, id) => out.push([e, d, id]), (c) => comments.push(c));
  p.push('data:one\ndata: two\n\n: note\nevent: x\ndata\n\nretry: 5\nid: 9\ndata: z\r');
  p.push('\n\r');
  p.push('\n');
  assert.deepStrictEqual(out, [['message', 'one\ntwo', null], ['x', '', null], ['message', 'z', '9']]);
  assert.deepStrictEqual(comments, [' note']);
});

test('long-poll over XHR: an immediate first poll, then held polls from the answered cursor', () => {
  const { h, clock, events, got, collect } = client('http://h.test', { transports: ['longpoll'] }, { XMLHttpRequest: FakeXHR });
  h.subscribe('a', collect);
  h.subscribe('b', collect);
  clock.tick(0);
  const p1 = FakeXHR.instances[0];
  assert.strictEqual(p1.url, 'http://h.test/poll?channel=a&channel=b&timeout=0');
  p1.respond(200, '{"messages":[],"cursor":"e1-5","recovered":true}');
  assert.strictEqual(h.state(), 'connected');
  assert.deepStrictEqual(events.transport, ['longpoll']);
  const p2 = FakeXHR.instances[1];
  assert.strictEqual(p2.url, 'http://h.test/poll?channel=a&channel=b&since=e1-5&timeout=25');
  p2.respond(200, JSON.stringify({ messages: [{ channel: 'a', id: 'e1-6', ts: 1, data: 1 }, { channel: 'b', id: 'e1-7', ts: 2, data: 2 }], cursor: 'e1-7', recovered: true }));
  assert.deepStrictEqual(ids(got), ['e1-6', 'e1-7']);
  const p3 = FakeXHR.instances[2];
  assert.ok(p3.url.includes('since=e1-7&timeout=25'));
  p3.respond(502, 'Bad Gateway');
  assert.strictEqual(h.state(), 'disconnected');
  assert.strictEqual(events.error[0].code, 'http_502');
  clock.tick(clock.pending()[0]);
  assert.strictEqual(FakeXHR.instances[3].url, 'http://h.test/poll?channel=a&channel=b&since=e1-7&timeout=0');
});

test('long-poll falls back to JSONP without CORS XHR, or when forced', () => {
  for (const mode of ['no-xhr', 'forced']) {
    const dom = fakeDom();
    const envExtra = { document: dom.document, window: dom.window };
    if (mode === 'forced') envExtra.XMLHttpRequest = FakeXHR;
    const { h, clock, got, collect } = client('http://h.test', { transports: ['longpoll'], jsonp: mode === 'forced' }, envExtra);
    h.subscribe('a', collect);
    clock.tick(0);
    assert.strictEqual(FakeXHR.instances.length, 0);
    const s1 = dom.scripts[0];
    const u = new URL(s1.src);
    assert.strictEqual(u.pathname, '/poll');
    assert.strictEqual(u.searchParams.get('timeout'), '0');
    const name = u.searchParams.get('callback');
    assert.match(name, /^[A-Za-z_$][\w$]*$/);
    dom.answer({ messages: [{ channel: 'a', id: 'e1-2', ts: 0, data: 'x' }], cursor: 'e1-2', recovered: true });
    assert.strictEqual(h.state(), 'connected');
    assert.deepStrictEqual(ids(got), ['e1-2']);
    assert.strictEqual(s1.parentNode, null, 'script removed');
    assert.ok(!(name in dom.window), 'callback removed');
    const s2 = dom.scripts[1];
    assert.strictEqual(new URL(s2.src).searchParams.get('since'), 'e1-2');
    assert.strictEqual(new URL(s2.src).searchParams.get('timeout'), '25');
    h.close();
    assert.strictEqual(s2.parentNode, null);
    dom.answer({ messages: [{ channel: 'a', id: 'e1-3' }], cursor: 'e1-3' });   // late answer is harmless
    assert.deepStrictEqual(ids(got), ['e1-2']);
  }
});

test('publish POSTs JSON and returns the cursor; errors carry status and message', () => {
  const { h } = client('http://h.test', { token: 'abc' }, { XMLHttpRequest: FakeXHR });
  const results = [];
  h.publish('scores:m1', { goal: 2 }, (err, res) => results.push([err, res]));
  const x = FakeXHR.instances[0];
  assert.strictEqual(x.method, 'POST');
  assert.strictEqual(x.url, 'http://h.test/api/publish?token=abc');
  assert.strictEqual(x.headers['Content-Type'], 'application/json');
  assert.deepStrictEqual(JSON.parse(x.body), { channel: 'scores:m1', data: { goal: 2 } });
  x.respond(200, '{"id":"e1-9"}');
  assert.deepStrictEqual(results[0], [null, { id: 'e1-9' }]);
  h.publish('bad channel', 1, (err) => results.push([err]));
  FakeXHR.instances[1].respond(400, '{"code":"bad_channel","message":"channel names may not contain spaces"}');
  assert.strictEqual(results[1][0].code, 'http_400');
  assert.strictEqual(results[1][0].server, 'bad_channel');
  assert.strictEqual(results[1][0].message, 'channel names may not contain spaces');
});

test('publish uses fetch where there is no XMLHttpRequest (Node)', async () => {
  const calls = [];
  const fetch = async (url, init) => { calls.push([url, init]); return { status: 200, text: async () => '{"id":"e1-1"}' }; };
  const { h } = client('http://h.test', {}, { fetch });
  const res = await new Promise((resolve, reject) => h.publish('a', 1, (err, r) => (err ? reject(err) : resolve(r))));
  assert.deepStrictEqual(res, { id: 'e1-1' });
  assert.strictEqual(calls[0][0], 'http://h.test/api/publish');
  assert.strictEqual(calls[0][1].method, 'POST');
});

test('conflation: a gap notice with the skipped count on every transport, then the newest message', () => {
  // WebSocket: {"op":"gap"} frame
  let c = client('http://h.test', { transports: ['websocket'] }, { WebSocket: FakeWebSocket });
  c.h.subscribe('scores:m1', c.collect);
  c.clock.tick(0);
  let ws = FakeWebSocket.instances[0];
  ws.serverOpen();
  ws.serverSend({ op: 'subscribed', channel: 'scores:m1', recovered: true, cursor: 'e1-5' });
  ws.serverSend({ op: 'message', channel: 'scores:m1', id: 'e1-6', ts: 1, data: 1 });
  ws.serverSend({ op: 'gap', channel: 'scores:m1', skipped: 40 });
  ws.serverSend({ op: 'message', channel: 'scores:m1', id: 'e1-47', ts: 2, data: 47 });
  ws.serverSend({ op: 'gap', channel: 'not-mine', skipped: 3 });
  assert.deepStrictEqual(c.events.gap, [{ channel: 'scores:m1', skipped: 40 }]);
  assert.deepStrictEqual(ids(c.got), ['e1-6', 'e1-47']);
  assert.strictEqual(c.events.error.length, 0);
  assert.strictEqual(c.h.cursor('scores:m1'), 'e1-47');

  // SSE: `event: gap`, no id line (Last-Event-ID stays at the last message)
  c = client('http://h.test', { transports: ['sse'] }, { XMLHttpRequest: FakeXHR });
  c.h.subscribe('scores:m1', c.collect);
  c.clock.tick(0);
  const x = FakeXHR.instances[0];
  x.stream('event: subscribed\ndata: {"channels":["scores:m1"],"recovered":true,"cursor":"e1-5"}\n\n');
  x.stream('event: gap\ndata: {"channel":"scores:m1","skipped":7}\n\n');
  x.stream('id: e1-13\nevent: message\ndata: {"channel":"scores:m1","id":"e1-13","ts":1,"data":13}\n\n');
  assert.deepStrictEqual(c.events.gap, [{ channel: 'scores:m1', skipped: 7 }]);
  assert.deepStrictEqual(ids(c.got), ['e1-13']);

  // long-poll: "skipped" per channel in the answer
  c = client('http://h.test', { transports: ['longpoll'] }, { XMLHttpRequest: FakeXHR });
  c.h.subscribe('scores:m1', c.collect);
  c.h.subscribe('chat:x', c.collect);
  c.clock.tick(0);
  FakeXHR.instances[0].respond(200, JSON.stringify({ messages: [{ channel: 'chat:x', id: 'e1-3', ts: 1, data: 3 },
    { channel: 'scores:m1', id: 'e1-9', ts: 2, data: 9 }], cursor: 'e1-9', recovered: true, skipped: { 'scores:m1': 5 } }));
  assert.deepStrictEqual(c.events.gap, [{ channel: 'scores:m1', skipped: 5 }]);
  assert.deepStrictEqual(ids(c.got), ['e1-3', 'e1-9']);
  assert.ok(FakeXHR.instances[1].url.includes('since=e1-9'));
});
