'use strict';
// Presence: join and leave events from every transport reach on('join') and
// on('leave') listeners, only for subscribed channels; presence() and channels()
// ask the HTTP API.
const test = require('node:test');
const assert = require('node:assert');
const { Herald, FakeClock, FakeWebSocket, FakeXHR } = require('./fakes.js');

function client(options, envExtra) {
  FakeWebSocket.instances = [];
  FakeXHR.instances = [];
  const clock = new FakeClock();
  const h = new Herald('http://h.test', {
    timers: clock,
    random: () => 0.5,
    env: { WebSocket: undefined, XMLHttpRequest: undefined, document: undefined, window: undefined, fetch: undefined, sessionStorage: null, ...envExtra },
    ...options,
  });
  const seen = [];
  h.on('join', (e) => seen.push(['join', e.channel, e.user, e.info]));
  h.on('leave', (e) => seen.push(['leave', e.channel, e.user, e.info]));
  const got = [];
  return { h, clock, seen, got };
}

test('WebSocket: {op:join|leave} frames become join and leave events, not messages', () => {
  const { h, clock, seen, got } = client({ transports: ['websocket'] }, { WebSocket: FakeWebSocket });
  h.subscribe('room:1', (m) => got.push(m));
  clock.tick(0);
  const ws = FakeWebSocket.instances[0];
  ws.serverOpen();
  ws.serverSend({ op: 'subscribed', channel: 'room:1', recovered: true, cursor: 'e1-1' });
  ws.serverSend({ op: 'join', channel: 'room:1', user: 'ann', info: { name: 'Ann' } });
  ws.serverSend({ op: 'join', channel: 'other', user: 'zed', info: null });  // not subscribed here: ignored
  ws.serverSend({ op: 'leave', channel: 'room:1', user: 'ann', info: { name: 'Ann' } });
  assert.deepStrictEqual(seen, [['join', 'room:1', 'ann', { name: 'Ann' }], ['leave', 'room:1', 'ann', { name: 'Ann' }]]);
  assert.deepStrictEqual(got, []);
  assert.strictEqual(h.cursor('room:1'), 'e1-1', 'presence events do not move the cursor');
});

test('SSE: `event: join` and `event: leave` become join and leave events', () => {
  const { h, clock, seen, got } = client({ transports: ['sse'] }, { XMLHttpRequest: FakeXHR });
  h.subscribe('room:1', (m) => got.push(m));
  clock.tick(0);
  const x = FakeXHR.instances[0];
  x.stream('event: subscribed\ndata: {"channels":["room:1"],"recovered":true,"cursor":"e1-1"}\n\n');
  x.stream('event: join\ndata: {"channel":"room:1","user":"bob","info":null}\n\n');
  x.stream('event: leave\ndata: {"channel":"room:1","user":"bob","info":null}\n\n');
  assert.deepStrictEqual(seen, [['join', 'room:1', 'bob', null], ['leave', 'room:1', 'bob', null]]);
  assert.deepStrictEqual(got, []);
  assert.strictEqual(h.state(), 'connected');
});

test('long-poll: the `presence` entries of an answer become events after its messages', () => {
  const { h, clock, seen, got } = client({ transports: ['longpoll'] }, { XMLHttpRequest: FakeXHR });
  h.subscribe('room:1', (m) => { got.push(m.id); seen.push(['message', m.id]); });
  clock.tick(0);
  FakeXHR.instances[0].respond(200, '{"messages":[],"cursor":"e1-5","recovered":true}');
  FakeXHR.instances[1].respond(200, JSON.stringify({
    messages: [{ channel: 'room:1', id: 'e1-6', ts: 1, data: 1 }],
    presence: [{ type: 'join', channel: 'room:1', user: 'cy', info: { a: 1 } }, { type: 'leave', channel: 'room:1', user: 'dee', info: null }],
    cursor: 'e1-6', recovered: true,
  }));
  assert.deepStrictEqual(seen, [['message', 'e1-6'], ['join', 'room:1', 'cy', { a: 1 }], ['leave', 'room:1', 'dee', null]]);
  assert.ok(FakeXHR.instances[2].url.includes('since=e1-6'), 'polling goes on from the answer\'s cursor');
});

test('presence() and channels() ask the API with the token and report its answer or error', () => {
  const { h } = client({ transports: ['sse'], token: 't' }, { XMLHttpRequest: FakeXHR });
  const results = [];
  h.presence('room:1', (err, res) => results.push([err, res]));
  const p = FakeXHR.instances[0];
  assert.strictEqual(p.method, 'GET');
  assert.strictEqual(p.url, 'http://h.test/api/presence?channel=room%3A1&token=t');
  p.respond(200, '{"channel":"room:1","count":1,"members":[{"user":"ann","info":null}]}');
  assert.deepStrictEqual(results[0], [null, { channel: 'room:1', count: 1, members: [{ user: 'ann', info: null }] }]);

  h.channels('scores:', (err, res) => results.push([err, res]));
  const c = FakeXHR.instances[1];
  assert.strictEqual(c.url, 'http://h.test/api/channels?prefix=scores%3A&token=t');
  c.respond(200, '{"channels":[{"channel":"scores:1","subscribers":3}],"truncated":false}');
  assert.deepStrictEqual(results[1][1].channels, [{ channel: 'scores:1', subscribers: 3 }]);

  h.presence('news:1', (err) => results.push([err]));
  FakeXHR.instances[2].respond(400, '{"error":{"code":"presence_disabled","message":"namespace \'news\' has no presence"}}');
  assert.strictEqual(results[2][0].server, 'presence_disabled');
  assert.strictEqual(results[2][0].status, 400);
});
