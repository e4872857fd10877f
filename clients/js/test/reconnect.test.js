'use strict';
// Backoff, liveness, resume from the last cursor, gaps.
const test = require('node:test');
const assert = require('node:assert');
const { Herald, setup, env, ids } = require('./fakes.js');

const { backoffDelay } = Herald._internal;

test('backoff grows exponentially to the cap; full jitter stays within [0, cap)', () => {
  const cfg = { initial: 500, max: 30000, jitter: 'full' };
  const caps = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000];
  for (let k = 0; k < caps.length; k++) {
    assert.strictEqual(backoffDelay(k, { ...cfg, jitter: 'none' }, () => 0), caps[k]);
    assert.strictEqual(backoffDelay(k, cfg, () => 0), 0);
    assert.strictEqual(backoffDelay(k, cfg, () => 0.5), caps[k] / 2);
    const top = backoffDelay(k, cfg, () => 1 - Number.EPSILON);
    assert.ok(top < caps[k] && top >= caps[k] - 1, `attempt ${k}: ${top} within [0, ${caps[k]})`);
  }
  assert.strictEqual(backoffDelay(5000, cfg, () => 0.999), 29970, 'huge attempt counts stay at the cap');
  let seed = 7;
  const lcg = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  for (let i = 0; i < 2000; i++) {
    const k = i % 10;
    const d = backoffDelay(k, cfg, lcg);
    assert.ok(d >= 0 && d < Math.min(30000, 500 * 2 ** k));
  }
});

test('reconnect rounds wait with growing, jittered delays and reset after a success', () => {
  const rand = [];
  const { h, clock, net, events } = setup({
    random: () => (rand.length ? rand.shift() : 0.5),
    herald: { transports: ['websocket'], backoff: { initial: 100, max: 1000 } },
  });
  h.subscribe('a', () => {});
  clock.tick(0);
  const openedAt = [];
  const failAll = (n) => {
    for (let i = 0; i < n; i++) {
      openedAt.push(clock.now());
      net.last().sink.closed({ code: 'network' });
      assert.strictEqual(h.state(), 'disconnected');
      clock.tick(clock.pending()[0]);
    }
  };
  rand.push(0.999, 0.999, 0.999, 0.999, 0.999, 0.999);
  failAll(6);
  const gaps = openedAt.slice(1).map((t, i) => t - openedAt[i]);
  assert.deepStrictEqual(gaps, [99, 199, 399, 799, 999]);
  assert.deepStrictEqual(events.state.slice(0, 4), ['connecting', 'disconnected', 'connecting', 'disconnected']);
  // success resets the attempt count: the next loss waits at most `initial`
  net.last().sink.subscribed(['a'], true, 'e1-1');
  rand.push(0.999);
  net.last().sink.closed({ code: 'network' });
  assert.deepStrictEqual(clock.pending(), [99]);
  clock.tick(99);
  assert.strictEqual(net.opened.length, 8);
});

test('silence longer than idleTimeout is a dead connection; pings and heartbeats keep it alive', () => {
  const { h, clock, net, events } = setup({ herald: { idleTimeout: 45000, pingInterval: 20000 } });
  h.subscribe('a', () => {});
  clock.tick(0);
  const ws = net.last();
  ws.sink.subscribed(['a'], true, 'e1-1');
  clock.tick(20000);
  assert.strictEqual(ws.pings, 1);
  ws.sink.alive(true);                  // pong at t=20000
  clock.tick(20000);
  assert.strictEqual(ws.pings, 2);
  ws.sink.alive(true);                  // pong at t=40000
  clock.tick(44999);                    // pings at 60000 and 80000 get no answer
  assert.strictEqual(ws.closed, false);
  assert.strictEqual(h.state(), 'connected');
  clock.tick(1);
  assert.strictEqual(ws.closed, true);
  assert.strictEqual(h.state(), 'disconnected');
  assert.strictEqual(events.error[events.error.length - 1].code, 'idle');
  clock.tick(clock.pending()[0]);
  assert.strictEqual(net.opened.length, 2);
});

test('long-poll gets a liveness limit longer than its hold time', () => {
  const { h, clock, net } = setup({ names: ['longpoll'], herald: { transports: ['longpoll'], idleTimeout: 10000 } });
  h.subscribe('a', () => {});
  clock.tick(0);
  const lp = net.last();
  lp.minIdle = 40000;
  lp.sink.batch(['a'], true, [], 'e1-1');
  clock.tick(39999);
  assert.strictEqual(lp.closed, false);
  clock.tick(1);
  assert.strictEqual(lp.closed, true);
});

test('WebSocket resumes every channel from its own last cursor; replayed duplicates are dropped', () => {
  const { h, clock, net, collect, got, events } = setup();
  h.subscribe('a', collect('a'));
  h.subscribe('b', collect('b'));
  clock.tick(0);
  const ws1 = net.last();
  assert.deepStrictEqual(ws1.ctx.since, { a: null, b: null });
  ws1.sink.subscribed(['a'], true, 'e1-3');
  ws1.sink.subscribed(['b'], true, 'e1-3');
  ws1.sink.message(env(4, 'a'));
  ws1.sink.message(env(5, 'b'));
  ws1.sink.message(env(6, 'a'));
  ws1.sink.closed({ code: 'ws_closed' });
  clock.tick(clock.pending()[0]);
  const ws2 = net.last();
  assert.notStrictEqual(ws2, ws1);
  // b's last message is 5 but a's 6 proves the connection delivered b up to 6 as well
  assert.deepStrictEqual(ws2.ctx.since, { a: 'e1-6', b: 'e1-6' });
  ws2.sink.subscribed(['a'], true, 'e1-8');
  ws2.sink.message(env(6, 'a'));        // a duplicate a server might replay
  ws2.sink.message(env(7, 'a'));
  ws2.sink.subscribed(['b'], true, 'e1-8');
  ws2.sink.message(env(8, 'b'));
  assert.deepStrictEqual(ids(got.a), ['e1-4', 'e1-6', 'e1-7']);
  assert.deepStrictEqual(ids(got.b), ['e1-5', 'e1-8']);
  assert.strictEqual(events.gap.length, 0);
  assert.strictEqual(h.cursor('a'), 'e1-8');
});

test('a channel still replaying does not move forward on other channels\' messages', () => {
  const { h, clock, net, collect, got } = setup();
  h.subscribe('a', collect('a'), { since: 'e1-2' });
  h.subscribe('b', collect('b'), { since: 'e1-2' });
  clock.tick(0);
  const ws = net.last();
  ws.sink.subscribed(['a'], true, 'e1-10');  // replay of a up to 10 follows
  ws.sink.subscribed(['b'], true, 'e1-10');
  ws.sink.message(env(4, 'a'));
  ws.sink.closed({ code: 'ws_closed' });
  clock.tick(clock.pending()[0]);
  assert.deepStrictEqual(net.last().ctx.since, { a: 'e1-4', b: 'e1-2' });
  assert.deepStrictEqual(ids(got.a), ['e1-4']);
});

test('SSE and long-poll resume all channels with one cursor', () => {
  const { h, clock, net } = setup({ herald: { transports: ['sse'] } });
  h.subscribe('a', () => {}, { since: 'e1-40' });
  h.subscribe('b', () => {}, { since: 'e1-30' });
  clock.tick(0);
  assert.strictEqual(net.last().ctx.cursor, 'e1-30', 'the oldest, so nothing is skipped');
  const sse = net.last();
  sse.sink.subscribed(['a', 'b'], true, 'e1-50');
  sse.sink.message(env(45, 'b'));
  sse.sink.message(env(50, 'a'));
  sse.sink.closed({ code: 'sse_ended' });
  clock.tick(clock.pending()[0]);
  assert.strictEqual(net.last().ctx.cursor, 'e1-50');
});

test('gap is emitted when the server cannot replay (recovered=false), per transport', () => {
  // WebSocket: per channel
  let s = setup();
  s.h.subscribe('a', s.collect('a'), { since: 'e1-5' });
  s.h.subscribe('b', s.collect('b'));
  s.clock.tick(0);
  s.net.last().sink.subscribed(['a'], false, 'e2-100');
  s.net.last().sink.subscribed(['b'], false, 'e2-100');   // b asked for nothing: no gap
  s.net.last().sink.message(env(101, 'a', 'x', 'e2'));
  assert.deepStrictEqual(s.events.gap, [{ channel: 'a' }]);
  assert.deepStrictEqual(ids(s.got.a), ['e2-101']);

  // SSE: one answer for the stream
  s = setup({ herald: { transports: ['sse'] } });
  s.h.subscribe('a', () => {}, { since: 'e1-5' });
  s.h.subscribe('b', () => {}, { since: 'e1-7' });
  s.clock.tick(0);
  s.net.last().sink.subscribed(['a', 'b'], false, 'e1-900');
  assert.deepStrictEqual(s.events.gap, [{ channel: 'a' }, { channel: 'b' }]);
  assert.strictEqual(s.h.cursor('a'), 'e1-900');

  // long-poll: the first answer, and a later one after a server restart
  s = setup({ herald: { transports: ['longpoll'] } });
  s.h.subscribe('a', s.collect('a'), { since: 'e1-5' });
  s.clock.tick(0);
  const lp = s.net.last();
  lp.sink.batch(['a'], true, [env(6)], 'e1-6');
  assert.strictEqual(s.events.gap.length, 0);
  lp.sink.batch(['a'], false, [env(1, 'a', 'fresh', 'e2')], 'e2-1');
  assert.deepStrictEqual(s.events.gap, [{ channel: 'a' }]);
  assert.deepStrictEqual(ids(s.got.a), ['e1-6', 'e2-1']);
  assert.strictEqual(s.h.cursor('a'), 'e2-1');
});

test('a resume cursor from an older epoch is a gap even if the server says recovered', () => {
  const s = setup();
  s.h.subscribe('a', () => {}, { since: 'e1-5' });
  s.clock.tick(0);
  s.net.last().sink.subscribed(['a'], true, 'e2-3');
  assert.deepStrictEqual(s.events.gap, [{ channel: 'a' }]);
});

test('an epoch change is accepted as a new log, then dedupe continues in it', () => {
  const s = setup();
  s.h.subscribe('a', s.collect('a'));
  s.clock.tick(0);
  const ws = s.net.last();
  ws.sink.subscribed(['a'], true, 'e1-10');
  ws.sink.message(env(11));
  ws.sink.message(env(2, 'a', 'new', 'e2'));
  ws.sink.message(env(2, 'a', 'new', 'e2'));
  ws.sink.message(env(3, 'a', 'new', 'e2'));
  assert.deepStrictEqual(ids(s.got.a), ['e1-11', 'e2-2', 'e2-3']);
});

test('sequence numbers compare as numbers, not strings, at any size', () => {
  const { isNewer } = Herald._internal;
  assert.ok(isNewer('e-10', 'e-9'));
  assert.ok(!isNewer('e-9', 'e-10'));
  assert.ok(isNewer('e-90071992547409930', 'e-90071992547409929'));
  assert.ok(!isNewer('e-5', 'e-5'));
  assert.ok(isNewer('a-b-5', 'a-b-4'), 'epoch may contain dashes: seq is after the last one');
  assert.ok(isNewer('e2-1', 'e1-99'), 'other epoch: accepted');
});

test('the browser coming back online cuts the backoff wait short', () => {
  const handlers = {};
  const window = {
    addEventListener: (ev, fn) => { handlers[ev] = fn; },
    removeEventListener: (ev, fn) => { if (handlers[ev] === fn) delete handlers[ev]; },
  };
  const { h, clock, net } = setup();
  const h2 = new Herald('http://herald.test', { transports: ['websocket'], backoff: { initial: 60000, max: 60000 }, timers: clock, transportFactories: h._factories, env: { window, sessionStorage: null } });
  h2.subscribe('a', () => {});
  clock.tick(0);
  const before = net.opened.length;
  net.last().sink.closed({ code: 'network' });
  assert.strictEqual(h2.state(), 'disconnected');
  assert.strictEqual(net.opened.length, before);
  handlers.online();
  assert.strictEqual(net.opened.length, before + 1);
  assert.strictEqual(h2.state(), 'connecting');
  handlers.online();                                  // already connecting: nothing more
  assert.strictEqual(net.opened.length, before + 1);
  h2.close();
  assert.strictEqual(handlers.online, undefined, 'listener removed on close');
  h.close();
});
