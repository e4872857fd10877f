'use strict';
// Several channels on one connection, subscribe/unsubscribe on the fly, dedupe
// while switching transports, close().
const test = require('node:test');
const assert = require('node:assert');
const { setup, memoryStorage, env, ids } = require('./fakes.js');

test('several subscriptions share one connection and get only their channel', () => {
  const { h, clock, net, got, collect } = setup();
  h.subscribe('a', collect('a'));
  h.subscribe('b', collect('b'));
  h.subscribe('a', collect('a2'));
  clock.tick(0);
  assert.strictEqual(net.opened.length, 1);
  const ws = net.last();
  assert.deepStrictEqual(ws.ctx.channels, ['a', 'b']);
  ws.sink.subscribed(['a'], true, 'e1-1');
  ws.sink.subscribed(['b'], true, 'e1-1');
  ws.sink.message(env(2, 'a', { x: 1 }));
  ws.sink.message(env(3, 'b'));
  ws.sink.message(env(4, 'zzz'));                   // not ours
  assert.deepStrictEqual(ids(got.a), ['e1-2']);
  assert.deepStrictEqual(ids(got.a2), ['e1-2']);
  assert.deepStrictEqual(ids(got.b), ['e1-3']);
  assert.deepStrictEqual(got.a[0], { channel: 'a', id: 'e1-2', ts: 1002, data: { x: 1 } });
});

test('subscribing on a live WebSocket sends a subscribe command, no new connection', () => {
  const { h, clock, net, got, collect } = setup();
  h.subscribe('a', collect('a'));
  clock.tick(0);
  const ws = net.last();
  ws.sink.subscribed(['a'], true, 'e1-1');
  h.subscribe('b', collect('b'), { since: 'e1-0' });
  clock.tick(0);
  assert.strictEqual(net.opened.length, 1);
  assert.deepStrictEqual(ws.subs, [{ channel: 'b', since: 'e1-0' }]);
  ws.sink.subscribed(['b'], true, 'e1-1');
  ws.sink.message(env(1, 'b'));
  assert.deepStrictEqual(ids(got.b), ['e1-1']);
});

test('unsubscribe stops delivery; the last one for a channel tells the server; the last one of all disconnects', () => {
  const { h, clock, net, got, collect, events } = setup();
  const s1 = h.subscribe('a', collect('a'));
  const s2 = h.subscribe('a', collect('a2'));
  const s3 = h.subscribe('b', collect('b'));
  clock.tick(0);
  const ws = net.last();
  ws.sink.subscribed(['a'], true, 'e1-1');
  s1.unsubscribe();
  s1.unsubscribe();                                   // twice is harmless
  ws.sink.message(env(2, 'a'));
  assert.strictEqual(got.a, undefined);
  assert.deepStrictEqual(ids(got.a2), ['e1-2']);
  assert.deepStrictEqual(ws.unsubs, []);
  s2.unsubscribe();
  assert.deepStrictEqual(ws.unsubs, ['a']);
  ws.sink.message(env(3, 'a'));
  assert.deepStrictEqual(ids(got.a2), ['e1-2']);
  s3.unsubscribe();
  assert.strictEqual(ws.closed, true);
  assert.strictEqual(h.state(), 'disconnected');
  clock.tick(600000);
  assert.strictEqual(net.opened.length, 1, 'no reconnect without subscriptions');
  h.subscribe('c', () => {});
  clock.tick(0);
  assert.strictEqual(net.opened.length, 2);
  assert.deepStrictEqual(net.last().ctx.channels, ['c']);
  assert.deepStrictEqual(events.state, ['connecting', 'connected', 'disconnected', 'connecting']);
});

test('on SSE a channel change reopens the stream beside the old one, then switches without loss', () => {
  const { h, clock, net, got, collect, events } = setup({ herald: { transports: ['sse'] } });
  h.subscribe('a', collect('a'));
  clock.tick(0);
  const s1 = net.last();
  s1.sink.subscribed(['a'], true, 'e1-10');
  s1.sink.message(env(11, 'a'));
  h.subscribe('b', collect('b'));
  h.subscribe('c', collect('c'));
  clock.tick(0);
  assert.strictEqual(net.opened.length, 2, 'one reopen for both changes');
  const s2 = net.last();
  assert.deepStrictEqual(s2.ctx.channels, ['a', 'b', 'c']);
  assert.strictEqual(s2.ctx.cursor, 'e1-11');
  s1.sink.message(env(12, 'a'));                    // the old stream still delivers meanwhile
  s2.sink.subscribed(['a', 'b', 'c'], true, 'e1-13');
  assert.strictEqual(s1.closed, true);
  s2.sink.message(env(12, 'a'));                    // replayed: dropped
  s2.sink.message(env(13, 'a'));
  s2.sink.message(env(14, 'b'));
  assert.deepStrictEqual(ids(got.a), ['e1-11', 'e1-12', 'e1-13']);
  assert.deepStrictEqual(ids(got.b), ['e1-14']);
  assert.deepStrictEqual(events.state, ['connecting', 'connected']);
  assert.deepStrictEqual(events.transport, ['sse']);
});

test('failback switch loses and repeats nothing: both transports overlap and dedupe by cursor', () => {
  const storage = memoryStorage({ 'herald.transport:http://herald.test': 'sse' });
  const { h, clock, net, got, collect } = setup({ storage, random: () => 0.999999, herald: { failbackInterval: 1000, idleTimeout: 1e9 } });
  h.subscribe('a', collect('a'));
  h.subscribe('b', collect('b'));
  clock.tick(0);
  const sse = net.last();
  assert.strictEqual(sse.name, 'sse');
  sse.sink.subscribed(['a', 'b'], true, 'e1-0');
  for (let i = 1; i <= 3; i++) sse.sink.message(env(i, i % 2 ? 'a' : 'b'));
  clock.tick(1000);
  const ws = net.last();
  assert.strictEqual(ws.name, 'websocket');
  assert.deepStrictEqual(ws.ctx.since, { a: 'e1-3', b: 'e1-3' });
  sse.sink.message(env(4, 'b'));                    // the old one keeps going during the probe
  sse.sink.message(env(5, 'a'));
  ws.sink.subscribed(['a'], true, 'e1-6');          // proven: switch now
  assert.strictEqual(sse.closed, true);
  sse.sink.message(env(6, 'b'));                    // too late: the old transport is gone
  ws.sink.message(env(5, 'a'));                     // replay from e1-3 for a
  ws.sink.subscribed(['b'], true, 'e1-6');
  ws.sink.message(env(4, 'b'));                     // replay for b
  ws.sink.message(env(6, 'b'));
  ws.sink.message(env(7, 'a'));
  ws.sink.message(env(8, 'b'));
  const all = [...got.a, ...got.b].map((m) => m.id).sort((x, y) => Number(x.slice(3)) - Number(y.slice(3)));
  assert.deepStrictEqual(all, ['e1-1', 'e1-2', 'e1-3', 'e1-4', 'e1-5', 'e1-6', 'e1-7', 'e1-8']);
  assert.deepStrictEqual(ids(got.a), ['e1-1', 'e1-3', 'e1-5', 'e1-7']);
  assert.deepStrictEqual(ids(got.b), ['e1-2', 'e1-4', 'e1-6', 'e1-8']);
});

test('failback randomised: whatever the old stream delivered before the switch, nothing is lost or repeated', () => {
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const chans = ['a', 'b', 'c'];
  for (let round = 0; round < 200; round++) {
    const storage = memoryStorage({ 'herald.transport:http://herald.test': 'longpoll' });
    const { h, clock, net, got, collect } = setup({ storage, herald: { failbackInterval: 1000, idleTimeout: 1e9 } });
    for (const c of chans) h.subscribe(c, collect(c));
    clock.tick(0);
    const lp = net.last();
    const log = [];
    for (let i = 1; i <= 40; i++) log.push(env(i, chans[Math.floor(rnd() * 3)]));
    let pos = 1 + Math.floor(rnd() * 10);
    lp.sink.batch(chans, true, log.slice(0, pos), log[pos - 1].id);
    clock.tick(2000);
    const ws = net.last();
    assert.strictEqual(ws.name, 'websocket');
    const since = ws.ctx.since;
    // the old transport goes on in batches while the new one is probed
    while (pos < 30 && rnd() < 0.7) {
      const n = 1 + Math.floor(rnd() * 3);
      lp.sink.batch(chans, true, log.slice(pos, pos + n), log[pos + n - 1].id);
      pos += n;
    }
    // the new one: pong or subscribed first, then a replay from its since, in order
    if (rnd() < 0.5) ws.sink.alive(true);
    for (const c of chans) ws.sink.subscribed([c], true, log[29].id);
    assert.strictEqual(lp.closed, true);
    lp.sink.batch(chans, true, log.slice(pos, pos + 1), log[pos].id);   // ignored: already replaced
    for (const m of log) if (Number(m.id.slice(3)) > Number(since[m.channel].slice(3))) ws.sink.message(m);
    for (const c of chans) {
      assert.deepStrictEqual(ids(got[c]), log.filter((m) => m.channel === c).map((m) => m.id), `round ${round} channel ${c}`);
    }
  }
});

test('close() stops everything, for good', () => {
  const { h, clock, net, events } = setup();
  h.subscribe('a', () => {});
  clock.tick(0);
  net.last().sink.subscribed(['a'], true, 'e1-1');
  h.close();
  assert.strictEqual(net.last().closed, true);
  assert.strictEqual(h.state(), 'closed');
  assert.deepStrictEqual(clock.pending(), []);
  net.last().sink.message(env(2));
  assert.throws(() => h.subscribe('b', () => {}), /after close/);
  assert.deepStrictEqual(events.state, ['connecting', 'connected', 'closed']);
});

test('a throwing message callback does not break delivery to the others', () => {
  const { h, clock, net, got, collect, events } = setup();
  h.subscribe('a', () => { throw new Error('boom'); });
  h.subscribe('a', collect('a'));
  clock.tick(0);
  net.last().sink.subscribed(['a'], true, 'e1-1');
  net.last().sink.message(env(2));
  net.last().sink.message(env(3));
  assert.deepStrictEqual(ids(got.a), ['e1-2', 'e1-3']);
  assert.strictEqual(events.error.filter((e) => e.code === 'callback').length, 2);
});
