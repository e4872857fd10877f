'use strict';
// Transport choice: order, probe timeouts, session memory, failback.
const test = require('node:test');
const assert = require('node:assert');
const { setup, memoryStorage, env, ids } = require('./fakes.js');

const PROBE = 5000;

test('tries transports in order; a refused WebSocket falls to SSE at once', () => {
  const { h, clock, net, events, collect, got } = setup();
  h.subscribe('a', collect('a'));
  assert.strictEqual(net.opened.length, 0, 'connects on the next turn, not inside subscribe()');
  clock.tick(0);
  assert.deepStrictEqual(net.opened.map((t) => t.name), ['websocket']);
  assert.deepStrictEqual(events.state, ['connecting']);
  net.last('websocket').sink.closed({ code: 'ws_closed', message: 'refused' });
  assert.deepStrictEqual(net.opened.map((t) => t.name), ['websocket', 'sse']);
  const sse = net.last('sse');
  assert.deepStrictEqual(sse.ctx.channels, ['a']);
  sse.sink.subscribed(['a'], true, 'e1-5');
  sse.sink.message(env(6));
  assert.strictEqual(h.state(), 'connected');
  assert.strictEqual(h.transport(), 'sse');
  assert.deepStrictEqual(events.transport, ['sse']);
  assert.deepStrictEqual(events.state, ['connecting', 'connected']);
  assert.deepStrictEqual(ids(got.a), ['e1-6']);
  assert.strictEqual(events.error[0].transport, 'websocket');
});

test('a WebSocket that opens and then carries nothing is caught by the probe timeout', () => {
  const { h, clock, net, events } = setup();
  h.subscribe('a', () => {});
  clock.tick(0);
  const ws = net.last('websocket');
  clock.tick(PROBE - 1);
  assert.strictEqual(net.opened.length, 1);
  assert.strictEqual(ws.closed, false);
  clock.tick(1);
  assert.strictEqual(ws.closed, true);
  assert.strictEqual(net.last().name, 'sse');
  assert.strictEqual(events.error[0].code, 'probe_timeout');
  net.last('sse').sink.subscribed(['a'], true, 'e1-1');
  assert.strictEqual(h.transport(), 'sse');
  // late frames from the abandoned socket are ignored
  ws.sink.subscribed(['a'], true, 'e1-1');
  assert.strictEqual(h.transport(), 'sse');
});

test('a WebSocket pong proves the path even before any subscribed frame', () => {
  const { h, clock, net } = setup();
  h.subscribe('a', () => {});
  clock.tick(0);
  net.last('websocket').sink.alive(true);
  clock.tick(PROBE * 2);
  assert.strictEqual(h.transport(), 'websocket');
  assert.strictEqual(net.opened.length, 1);
});

test('SSE held back by a buffering proxy (heartbeat comments do not count) falls to long-poll', () => {
  const { h, clock, net, events, storage } = setup();
  h.subscribe('a', () => {});
  clock.tick(0);
  net.last('websocket').sink.closed({ code: 'ws_closed' });
  const sse = net.last('sse');
  sse.sink.alive(false);              // e.g. the padding comment got through, the events did not
  clock.tick(PROBE);
  assert.strictEqual(sse.closed, true);
  const lp = net.last('longpoll');
  assert.ok(lp, 'long-poll opened');
  lp.sink.batch(['a'], true, [], 'e1-9');
  assert.strictEqual(h.transport(), 'longpoll');
  assert.deepStrictEqual(events.transport, ['longpoll']);
  assert.strictEqual(storage.data['herald.transport:http://herald.test'], 'longpoll');
});

test('the working transport is remembered for the session and tried first', () => {
  const storage = memoryStorage({ 'herald.transport:http://herald.test': 'longpoll' });
  const { h, clock, net } = setup({ storage, herald: { failbackInterval: 0 } });
  h.subscribe('a', () => {});
  clock.tick(0);
  assert.deepStrictEqual(net.opened.map((t) => t.name), ['longpoll']);
  // if it fails, the others are still tried before backing off
  net.last().sink.closed({ code: 'network' });
  assert.deepStrictEqual(net.opened.map((t) => t.name), ['longpoll', 'websocket']);
  net.last().sink.closed({ code: 'network' });
  assert.deepStrictEqual(net.opened.map((t) => t.name), ['longpoll', 'websocket', 'sse']);
});

test('failback: a better transport is tried in the background and takes over once proven', () => {
  const storage = memoryStorage({ 'herald.transport:http://herald.test': 'longpoll' });
  const { h, clock, net, events } = setup({ storage, random: () => 0.999999, herald: { failbackInterval: 60000, idleTimeout: 1e9 } });
  h.subscribe('a', () => {});
  clock.tick(0);
  const lp = net.last('longpoll');
  lp.sink.batch(['a'], true, [], 'e1-1');
  assert.strictEqual(h.transport(), 'longpoll');
  clock.tick(59000);
  assert.strictEqual(net.opened.length, 1);
  clock.tick(1000);
  const ws = net.last();
  assert.strictEqual(ws.name, 'websocket');
  assert.strictEqual(lp.closed, false, 'the old transport keeps working while the new one is probed');
  assert.strictEqual(h.state(), 'connected');
  ws.sink.subscribed(['a'], true, 'e1-1');
  assert.strictEqual(lp.closed, true);
  assert.strictEqual(h.transport(), 'websocket');
  assert.deepStrictEqual(events.transport, ['longpoll', 'websocket']);
  assert.deepStrictEqual(events.state, ['connecting', 'connected'], 'no disconnect during the switch');
  assert.strictEqual(storage.data['herald.transport:http://herald.test'], 'websocket');
  clock.tick(10 * 60000);
  assert.strictEqual(net.opened.length, 2, 'no failback from the best transport');
});

test('failback that fails keeps the current transport, tries the next better one, then waits longer', () => {
  const storage = memoryStorage({ 'herald.transport:http://herald.test': 'longpoll' });
  const { h, clock, net, events } = setup({ storage, random: () => 0.999999, herald: { failbackInterval: 1000 } });
  h.subscribe('a', () => {});
  clock.tick(0);
  net.last().sink.batch(['a'], true, [], 'e1-1');
  clock.tick(1000);
  assert.strictEqual(net.last().name, 'websocket');
  clock.tick(PROBE);                      // WebSocket swallowed by a proxy
  assert.strictEqual(net.last().name, 'sse');
  net.last().sink.closed({ code: 'http_502' });
  assert.strictEqual(h.transport(), 'longpoll');
  assert.strictEqual(h.state(), 'connected');
  assert.deepStrictEqual(events.state, ['connecting', 'connected']);
  // second round after ~2x the interval
  const before = net.opened.length;
  clock.tick(1999 - 1);
  assert.strictEqual(net.opened.length, before);
  clock.tick(2);
  assert.strictEqual(net.opened.length, before + 1);
  assert.strictEqual(net.last().name, 'websocket');
});

test('transports that cannot run here are skipped', () => {
  const { h, clock, net } = setup({ herald: { transports: ['nope', 'sse', 'longpoll'] } });
  h.subscribe('a', () => {});
  clock.tick(0);
  assert.deepStrictEqual(net.opened.map((t) => t.name), ['sse']);
});
