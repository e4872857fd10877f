'use strict';
// herald.js in a real browser (headless Chromium) against the real server,
// directly and behind hostile proxies. Each test subscribes one page, has the
// runner publish a numbered sequence over HTTP, and checks that the page got
// every number exactly once and in order, over the transport the test expects.
//
//   node --test tests/browser/browser.test.js
//
// Needs /usr/bin/chromium, /usr/sbin/nginx, playwright-core in tests/node_modules
// (cd tests && npm install) and a built Herald (HERALD_BINARY overrides the
// default build/src/server/herald). Tests run one after another in one
// Chromium, each in a fresh browser context. HERALD_BROWSER_DEBUG=1 prints
// what each client reported (transports, states, gaps, errors, messages).

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { sleep, startHerald, publishRange, startPublisher, startNginx } = require('./support/processes.js');
const { startTcpProxy } = require('./support/tcp_proxy.js');
const { launchChromium, startPageServer, openClient } = require('./support/browser.js');

let tmpRoot, browser, pages;

test.before(async () => {
  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-browser-'));
  // Also when the runner is cut short (test.after does not run then).
  process.on('exit', () => fs.rmSync(tmpRoot, { recursive: true, force: true }));
  pages = await startPageServer();
  browser = await launchChromium(path.join(tmpRoot, 'chromium'));
});

test.after(async () => {
  if (browser) { await browser.close(); }
  if (pages) { await pages.close(); }
  if (tmpRoot) { fs.rmSync(tmpRoot, { recursive: true, force: true }); }
});

// Runs `body(track)`; everything passed to track() (a Herald, an nginx, a
// proxy, a client) is shut down afterwards, and the server and proxy logs
// are appended to the failure if there is one.
function scenario(name, body) {
  test(name, { timeout: 60000 }, async () => {
    const held = [];
    const track = (thing) => { held.push(thing); return thing; };
    try {
      await body(track);
    } catch (e) {
      const logs = held.filter((h) => h.log).map((h) => h.log()).join('\n');
      if (logs) { e.message += `\n${logs}`; }
      throw e;
    } finally {
      for (const h of held.reverse()) {
        try { await (h.stop ? h.stop(1000) : h.close()); } catch (e) { /* best effort */ }
      }
    }
  });
}

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// Every number 1..n exactly once, in order; the transports reported are
// exactly `transports`; and the page threw nothing.
async function expectExactly(client, n, transports) {
  // Anything still in flight would be a duplicate or an extra: let it land.
  await sleep(250);
  const rec = await client.rec();
  const summary = await client.summary();
  if (process.env.HERALD_BROWSER_DEBUG) { process.stderr.write(`${summary}\n`); }
  assert.deepStrictEqual(rec.messages.map((m) => m.data), range(1, n), `messages 1..${n} once each, in order\n${summary}`);
  assert.deepStrictEqual(rec.transports.map((t) => t.name), transports, `transports reported\n${summary}`);
  assert.deepStrictEqual(client.pageErrors, [], 'uncaught errors in the page');
}

function transportTime(rec, name) {
  const t = rec.transports.find((x) => x.name === name);
  return t ? t.t : Infinity;
}

const pathOf = (url) => new URL(url).pathname;

// ---- 1. direct ----

scenario('direct connection: WebSocket carries every message once, in order', async (track) => {
  const herald = track(await startHerald({ heartbeat: 1000 }));
  const client = track(await openClient(browser, pages, { base: herald.url, channel: 'direct' }));
  await client.waitForTransport('websocket', 5000);
  await publishRange(herald.url, 'direct', 1, 60);
  await client.waitForMessages(60, 5000);
  await expectExactly(client, 60, ['websocket']);
  assert.ok(client.requests.some((r) => pathOf(r.url) === '/ws' && r.type === 'websocket'), 'a WebSocket was opened');
});

// ---- 2. WebSocket stripped ----

scenario('nginx without Upgrade headers: the handshake fails and SSE takes over within 5 s', async (track) => {
  const herald = track(await startHerald({ heartbeat: 1000 }));
  const nginx = track(await startNginx(path.join(tmpRoot, 'nginx-no-upgrade'), herald.port, 'no-upgrade'));
  // The default probeTimeout (5 s): the limit is checked as users get it.
  const client = track(await openClient(browser, pages, { base: nginx.url, channel: 'no-upgrade' }));
  await client.waitForTransport('sse', 6000);
  const rec = await client.rec();
  assert.ok(transportTime(rec, 'sse') <= 5000, `SSE within 5 s of subscribe\n${await client.summary()}`);
  assert.ok(rec.errors.some((e) => e.transport === 'websocket'), `the WebSocket was tried and failed\n${await client.summary()}`);
  await publishRange(herald.url, 'no-upgrade', 1, 60);
  await client.waitForMessages(60, 5000);
  await expectExactly(client, 60, ['sse']);
  const streams = client.requests.filter((r) => pathOf(r.url) === '/sse');
  assert.ok(streams.length >= 1 && streams.every((r) => r.type === 'fetch'), `the stream was read with fetch: ${JSON.stringify(streams)}`);
});

scenario('a browser without streamed fetch bodies reads SSE through XHR streaming', async (track) => {
  const herald = track(await startHerald({ heartbeat: 1000 }));
  const client = track(await openClient(browser, pages, {
    base: herald.url, channel: 'sse-xhr', options: { transports: ['sse'] }, initScript: 'delete window.ReadableStream;',
  }));
  await client.waitForTransport('sse', 6000);
  await publishRange(herald.url, 'sse-xhr', 1, 30);
  await publishRange(herald.url, 'sse-xhr', 31, 40, 30);
  await client.waitForMessages(40, 5000);
  await expectExactly(client, 40, ['sse']);
  const streams = client.requests.filter((r) => pathOf(r.url) === '/sse');
  assert.ok(streams.length >= 1 && streams.every((r) => r.type === 'xhr'), `the stream was read with XHR: ${JSON.stringify(streams)}`);
});

// ---- 3. buffering proxy ----

scenario('buffering nginx (HTTP/1.0 upstream, no WebSocket): long-poll takes over within 10 s', async (track) => {
  const herald = track(await startHerald({ heartbeat: 1000 }));
  const nginx = track(await startNginx(path.join(tmpRoot, 'nginx-buffering'), herald.port, 'buffering'));
  // Default probeTimeout: SSE must be given up by its probe, as in the field.
  const client = track(await openClient(browser, pages, { base: nginx.url, channel: 'buffered' }));
  await client.waitForTransport('longpoll', 11000);
  const rec = await client.rec();
  const summary = await client.summary();
  assert.ok(transportTime(rec, 'longpoll') <= 10000, `long-poll within 10 s of subscribe\n${summary}`);
  assert.ok(rec.errors.some((e) => e.transport === 'websocket'), `the WebSocket was tried and failed\n${summary}`);
  assert.ok(rec.errors.some((e) => e.transport === 'sse' && e.code === 'probe_timeout'),
    `SSE was tried and given up because nothing came through\n${summary}`);
  // Bursts and trickles: some answers carry many messages, some one.
  await publishRange(herald.url, 'buffered', 1, 25);
  await publishRange(herald.url, 'buffered', 26, 40, 30);
  await client.waitForMessages(40, 10000);
  await expectExactly(client, 40, ['longpoll']);
});

// ---- 4. old browsers ----

const NO_WEBSOCKET_NO_EVENTSOURCE = 'delete window.WebSocket; delete window.EventSource;';
// Like IE before 10: responseText cannot be read until the request is done,
// so an XHR stream shows nothing while it is open.
const NO_XHR_STREAMING = `(function () {
  var d = Object.getOwnPropertyDescriptor(XMLHttpRequest.prototype, 'responseText');
  Object.defineProperty(XMLHttpRequest.prototype, 'responseText', { configurable: true, get: function () {
    if (this.readyState !== 4) { throw new DOMException('responseText is not readable yet', 'InvalidStateError'); }
    return d.get.call(this);
  } });
}());`;
const NO_XHR = 'delete window.XMLHttpRequest;';
// Browsers that old have no fetch either.
const NO_FETCH = 'delete window.fetch;';

scenario('old browser (no WebSocket, no EventSource, no XHR streaming): XHR long-poll', async (track) => {
  const herald = track(await startHerald({ heartbeat: 1000 }));
  const client = track(await openClient(browser, pages, {
    base: herald.url, channel: 'old-xhr', options: { probeTimeout: 2000 },
    initScript: NO_WEBSOCKET_NO_EVENTSOURCE + NO_FETCH + NO_XHR_STREAMING,
  }));
  await client.waitForTransport('longpoll', 10000);
  const summary = await client.summary();
  assert.ok(transportTime(await client.rec(), 'longpoll') <= 10000, `long-poll within 10 s\n${summary}`);
  await publishRange(herald.url, 'old-xhr', 1, 20);
  await publishRange(herald.url, 'old-xhr', 21, 30, 30);
  await client.waitForMessages(30, 10000);
  await expectExactly(client, 30, ['longpoll']);
  const byPath = (p) => client.requests.filter((r) => pathOf(r.url) === p);
  assert.ok(!client.requests.some((r) => r.type === 'websocket'), 'no WebSocket without window.WebSocket');
  assert.ok(byPath('/sse').length >= 1, 'SSE over XHR was tried (it cannot stream here)');
  assert.ok(byPath('/poll').length >= 2 && byPath('/poll').every((r) => r.type === 'xhr'), 'polls went through XHR');
});

for (const variant of [
  { name: 'no XMLHttpRequest either', channel: 'jsonp-noxhr', options: {}, initScript: NO_WEBSOCKET_NO_EVENTSOURCE + NO_FETCH + NO_XHR },
  { name: 'option jsonp: true', channel: 'jsonp-option', options: { jsonp: true, transports: ['longpoll'] }, initScript: null },
]) {
  scenario(`JSONP long-poll (${variant.name}) receives everything`, async (track) => {
    const herald = track(await startHerald({ heartbeat: 1000 }));
    const client = track(await openClient(browser, pages, {
      base: herald.url, channel: variant.channel, options: { probeTimeout: 2000, ...variant.options }, initScript: variant.initScript,
    }));
    await client.waitForTransport('longpoll', 10000);
    await publishRange(herald.url, variant.channel, 1, 20);
    await publishRange(herald.url, variant.channel, 21, 30, 30);
    await client.waitForMessages(30, 10000);
    await expectExactly(client, 30, ['longpoll']);
    const polls = client.requests.filter((r) => pathOf(r.url) === '/poll');
    assert.ok(polls.length >= 2 && polls.every((r) => r.type === 'script' && /[?&]callback=/.test(r.url)),
      `polls were JSONP <script> requests: ${JSON.stringify(polls.slice(0, 3))}`);
    assert.ok(!client.requests.some((r) => pathOf(r.url) === '/sse' || r.type === 'websocket'), 'no SSE, no WebSocket');
  });
}

// ---- 5. server restart ----

for (const transport of ['websocket', 'sse', 'longpoll']) {
  scenario(`server restarted mid-stream (${transport}): the client reports the gap and goes on`, async (track) => {
    const channel = `restart-${transport}`;
    const first = track(await startHerald({ heartbeat: 500 }));
    const client = track(await openClient(browser, pages, {
      base: first.url, channel, options: { transports: [transport], probeTimeout: 3000, backoff: { initial: 100, max: 500 } },
    }));
    await client.waitForTransport(transport, 5000);
    await publishRange(first.url, channel, 1, 20);
    await client.waitForMessages(20, 5000);

    // SIGTERM as in a deploy; a server that drains its connections first gets
    // time for it, one that hangs is killed and fails the test.
    await first.stop(10000);
    assert.ok(!first.killedHard, 'Herald exited within 10 s of SIGTERM with a client connected');
    const second = track(await startHerald({ port: first.port, heartbeat: 500 }));
    // The new server has a new cursor epoch: resuming from the old cursor
    // cannot be replayed, and the client must say so.
    await client.waitFor('a gap', (rec) => rec.gaps.length >= 1, null, 10000);
    await publishRange(second.url, channel, 21, 40);
    await client.waitForMessages(40, 5000);
    await expectExactly(client, 40, [transport]);
    const rec = await client.rec();
    assert.deepStrictEqual(rec.gaps.map((g) => g.channel), [channel], `exactly one gap\n${await client.summary()}`);
    const epochs = new Set(rec.messages.map((m) => m.id.slice(0, m.id.lastIndexOf('-'))));
    assert.strictEqual(epochs.size, 2, `messages from two cursor epochs: ${[...epochs]}`);
  });
}

// ---- 6. failback ----

scenario('failback: from SSE back to WebSocket without loss once a blackholing proxy is replaced', async (track) => {
  const herald = track(await startHerald({ heartbeat: 1000 }));
  const blocking = track(await startTcpProxy({ upstreamPort: herald.port, mode: 'blackhole-websocket' }));
  const client = track(await openClient(browser, pages, {
    base: blocking.url, channel: 'failback', options: { probeTimeout: 1500, failbackInterval: 1500 },
  }));
  // The WebSocket opens through the proxy, then carries nothing: its probe fails.
  await client.waitForTransport('sse', 5000);
  assert.ok(blocking.stats.upgrades >= 1, 'the proxy let a WebSocket handshake through');
  const publisher = startPublisher(herald.url, 'failback', 20);
  try {
    // A failback try against the blackhole fails without disturbing SSE.
    await client.waitFor('a failed failback try', (rec) => rec.errors.filter(
      (e) => e.transport === 'websocket' && e.code === 'probe_timeout').length >= 2, null, 8000);
    assert.ok(blocking.stats.upgrades >= 2, 'the failback try went through the proxy');
    // Replace the proxy on the same port; the open SSE stream keeps flowing.
    await blocking.stopListening();
    const clean = track(await startTcpProxy({ upstreamPort: herald.port, mode: 'pass', port: blocking.port }));
    await client.waitForTransport('websocket', 10000);
    assert.ok(clean.stats.connections >= 1, 'the WebSocket came through the new proxy');
    await sleep(500);
  } finally {
    await publisher.stop();
  }
  const last = publisher.published();
  assert.ok(last >= 50, `enough messages published across the switch (${last})`);
  await client.waitForMessages(last, 5000);
  await expectExactly(client, last, ['sse', 'websocket']);
  const rec = await client.rec();
  assert.deepStrictEqual(rec.states.map((s) => s.state), ['connecting', 'connected'],
    `connected throughout the switch\n${await client.summary()}`);
  const switchAt = transportTime(rec, 'websocket');
  assert.ok(rec.messages.some((m) => m.t < switchAt) && rec.messages.some((m) => m.t > switchAt),
    'messages arrived both before and after the switch');
});

// ---- 7. errors explained by the server ----

scenario('errors the server explains reach the page with its message; publish from the page passes CORS', async (track) => {
  const herald = track(await startHerald({ heartbeat: 1000 }));
  const explained = /channel names are/;
  for (const transport of ['websocket', 'sse', 'longpoll']) {
    const client = track(await openClient(browser, pages, {
      base: herald.url, channel: 'bad name', options: { transports: [transport], backoff: { initial: 5000, max: 5000 } },
    }));
    await client.waitFor(`an error from ${transport}`, (rec, t) => rec.errors.some((e) => e.transport === t), transport, 5000);
    const err = (await client.rec()).errors.find((e) => e.transport === transport);
    assert.match(err.message, explained, `${transport}: the server's explanation, not just a status\n${await client.summary()}`);
    await client.close();
  }
  const client = track(await openClient(browser, pages, { base: herald.url, channel: 'from-page' }));
  await client.waitForTransport('websocket', 5000);
  const ok = await client.page.evaluate(() => window.heraldTest.publish('from-page', 1));
  assert.strictEqual(ok.err, null, `publish from the page: ${JSON.stringify(ok.err)}`);
  assert.match(ok.res.id, /^[0-9a-z]+-1$/);
  const bad = await client.page.evaluate(() => window.heraldTest.publish('bad name', 2));
  assert.ok(bad.err, 'publishing to an invalid channel fails');
  assert.strictEqual(bad.err.status, 400);
  assert.strictEqual(bad.err.server, 'invalid_channel');
  assert.match(bad.err.message, explained);
  await client.waitForMessages(1, 5000);
  await expectExactly(client, 1, ['websocket']);
});

// ---- presence ----

function presenceToken(sub, info) {
  const b64 = (x) => Buffer.from(x).toString('base64url');
  const signing = `${b64('{"alg":"HS256","typ":"JWT"}')}.${b64(JSON.stringify({ sub, info }))}`;
  return `${signing}.${require('node:crypto').createHmac('sha256', 'browser-presence').update(signing).digest('base64url')}`;
}

scenario('presence: joins and leaves reach herald.js listeners over WebSocket, SSE and long-poll', async (track) => {
  const herald = track(await startHerald({ heartbeat: 1000, args: ['--token-secret', 'browser-presence',
    '--config', path.join(__dirname, '..', 'integration', 'presence_config.json'), '--presence-linger', '300'] }));
  const open = (user, transport) => openClient(browser, pages, { base: herald.url, channel: 'room:b',
    options: { transports: [transport], token: presenceToken(user, { via: transport }), pollTimeout: 5 } });
  const seen = (client, type, user) => client.waitFor(`${type} of ${user}`,
    (rec, a) => rec.presence.some((p) => p.type === a[0] && p.user === a[1] && p.channel === 'room:b'), [type, user], 10000);
  const ws = track(await open('ann', 'websocket'));
  await ws.waitForTransport('websocket', 5000);
  await seen(ws, 'join', 'ann');
  const sse = track(await open('bob', 'sse'));
  await sse.waitForTransport('sse', 5000);
  await seen(ws, 'join', 'bob');
  await seen(sse, 'join', 'bob');
  const poll = track(await open('cy', 'longpoll'));
  await poll.waitForTransport('longpoll', 5000);
  await seen(ws, 'join', 'cy');
  await seen(sse, 'join', 'cy');
  await sleep(500);  // the long-poll client's poll is held again

  await sse.close();
  await seen(ws, 'leave', 'bob');
  await seen(poll, 'leave', 'bob');
  const bobJoin = (await ws.rec()).presence.find((p) => p.user === 'bob');
  assert.deepStrictEqual(bobJoin.info, { via: 'sse' }, 'the token\'s info travels with the event');
  const list = await ws.page.evaluate(() => window.heraldTest.presence('room:b'));
  assert.strictEqual(list.err, null);
  assert.deepStrictEqual(list.res.members.map((m) => m.user), ['ann', 'cy']);
  for (const c of [ws, poll]) {
    assert.deepStrictEqual((await c.rec()).messages, [], 'presence events are not messages');
    assert.deepStrictEqual(c.pageErrors, []);
  }
});
