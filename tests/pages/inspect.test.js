'use strict';
// The inspector page (/inspect/) in headless Chromium against a herald with a publish
// key and real subscribers of every transport: it shows 3 WebSocket, 2 SSE and 1
// long-poll connections (not counting its own stream), each channel's subscribers, the
// exact totals of what was published and delivered, follows a client leaving within
// seconds, reports a slow consumer the server disconnected, and shows nothing without
// the key. Saves docs/inspector.png.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { SOURCE_DIR, startHerald, launchChromium, screenshotPath } = require('./support.js');

const WebSocket = require(path.join(SOURCE_DIR, 'tests', 'node_modules', 'ws'));
const KEY = 'inspector-test-key';
const SECRET = 'inspector-token-secret';

// An HS256 token with these claims, as an application would issue it.
function token(claims) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${crypto.createHmac('sha256', SECRET).update(unsigned).digest('base64url')}`;
}

let herald;
let browser;
const closers = [];

before(async () => {
  // A small outbox, so one client that stops reading is disconnected soon.
  herald = await startHerald(['--publish-key', KEY, '--token-secret', SECRET, '--max-outbox', '262144',
    '--node-id', 'node-a']);
  browser = await launchChromium();
});

after(async () => {
  for (const close of closers) { close(); }
  if (browser) { await browser.close(); }
  if (herald) { await herald.stop(); }
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function wsClient(channel) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${herald.url.replace('http', 'ws')}/ws?channel=${channel}`);
    const client = { received: 0, close: () => ws.terminate() };
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.op === 'subscribed') { resolve(client); }
      if (m.op === 'message') { client.received += 1; }
    });
    ws.on('error', reject);
    closers.push(client.close);
  });
}

function sseClient(channels) {
  return new Promise((resolve, reject) => {
    const q = channels.map((c) => `channel=${c}`).join('&');
    const req = http.get(`${herald.url}/sse?${q}`, (res) => {
      const client = { received: 0, close: () => req.destroy() };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let at;
        while ((at = buf.indexOf('\n\n')) >= 0) {
          const event = buf.slice(0, at);
          buf = buf.slice(at + 2);
          if (event.includes('event: subscribed')) { resolve(client); }
          if (event.includes('event: message')) { client.received += 1; }
        }
      });
    });
    req.on('error', () => {});
    closers.push(() => req.destroy());
    setTimeout(() => reject(new Error('SSE did not subscribe')), 5000).unref();
  });
}

// A long-poll on a channel nobody publishes to: held nearly all the time.
function longPollClient(channel) {
  let stopped = false;
  let current = null;
  const poll = () => {
    if (stopped) { return; }
    current = http.get(`${herald.url}/poll?channel=${channel}&timeout=20`, (res) => {
      res.resume();
      res.on('end', poll);
    });
    current.on('error', () => {});
  };
  poll();
  closers.push(() => { stopped = true; if (current) { current.destroy(); } });
}

// One subscriber that never reads: its outbox fills and the server drops it.
function stalledSseClient(channel) {
  const socket = net.connect(Number(new URL(herald.url).port), '127.0.0.1', () => {
    socket.write(`GET /sse?channel=${channel} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    socket.pause();
  });
  socket.on('error', () => {});
  closers.push(() => socket.destroy());
  return socket;
}

function publish(items) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(items);
    const req = http.request(`${herald.url}/api/publish`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}`, 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`publish answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Publishes one message to `channel` every `everyMs` until stop(); counts the answered ones.
function publisher(channel, everyMs) {
  const p = { count: 0, running: true };
  p.done = (async () => {
    while (p.running) {
      await publish({ channel, data: { n: p.count } });
      p.count += 1;
      await sleep(everyMs);
    }
  })();
  p.stop = async () => { p.running = false; await p.done; };
  return p;
}

// What the page shows.
function shown(page) {
  return page.evaluate(() => {
    const t = (id) => document.getElementById(id).textContent;
    const n = (s) => Number(s.replace(/[^0-9.]/g, ''));
    const channels = {};
    for (const row of document.querySelectorAll('#channels tr')) {
      channels[row.getAttribute('data-channel')] = n(row.querySelector('.subs').textContent);
    }
    return {
      seq: Number(document.getElementById('updated').getAttribute('data-seq') || 0),
      websocket: t('conn-websocket'), sse: t('conn-sse'), longpoll: t('conn-longpoll'),
      publishRate: t('rate-publish'), published: n(t('total-published')), delivered: n(t('total-delivered')),
      channels, channelSummary: t('channels-summary'), node: t('node'),
      broker: t('broker-kind'), brokerState: t('broker-state'),
      slowDisconnects: t('slow-disconnects'), events: [...document.querySelectorAll('#events li')].map((li) => li.className + ' ' + li.textContent),
      dashboard: !document.getElementById('dashboard').hidden, locked: !document.getElementById('locked').hidden,
      lockedWhy: t('locked-why'),
    };
  });
}

async function until(page, what, predicate, timeout = 10000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    last = await shown(page);
    if (predicate(last)) { return last; }
    await sleep(100);
  }
  assert.fail(`the page never showed ${what}; last: ${JSON.stringify(last)}`);
}

test('the inspector shows connections, channels, totals and slow consumers as they are, and follows changes live', async () => {
  const ws = [await wsClient('room:a'), await wsClient('room:a'), await wsClient('room:a')];
  const sse = [await sseClient(['room:a', 'room:b']), await sseClient(['room:b'])];
  longPollClient('room:c');

  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${herald.url}/inspect/?key=${KEY}`);

  // Exactly the clients above; the page's own stream is not one of them.
  let s = await until(page, '3 WebSocket, 2 SSE and 1 long-poll connections',
    (v) => v.websocket === '3' && v.sse === '2' && v.longpoll === '1');
  assert.deepEqual(s.channels, { 'room:a': 4, 'room:b': 2, 'room:c': 1 });
  assert.match(s.channelSummary, /^3 with subscribers · 7 subscriptions$/);
  assert.equal(s.node, 'node-a');
  assert.equal(s.broker, 'embedded (in-process)');
  assert.equal(s.brokerState, 'up');

  // 60 messages at about 20 a second: the rate shows while they flow; then the totals
  // are exact: 60 published, each delivered to 3 WebSocket and 1 SSE subscriber.
  const pub = publisher('room:a', 40);
  s = await until(page, 'a publish rate', (v) => Number(v.publishRate) >= 3);
  while (pub.count < 60) { await sleep(20); }
  await pub.stop();
  const published = pub.count;
  s = await until(page, `${published} published and ${published * 4} delivered`,
    (v) => v.published === published && v.delivered === published * 4 && v.publishRate === '0');
  // The server counts a delivery when it writes it; the clients may read it a moment later.
  const received = () => [...ws.map((c) => c.received), ...sse.map((c) => c.received)];
  for (const end = Date.now() + 5000; Date.now() < end && received().join() !== [published, published, published, published, 0].join();) {
    await sleep(50);
  }
  assert.deepEqual(ws.map((c) => c.received), [published, published, published]);
  assert.deepEqual(sse.map((c) => c.received), [published, 0]);

  // Live: a snapshot a second, and a client that leaves is gone from the page within seconds.
  const seq = s.seq;
  ws[2].close();
  s = await until(page, '2 WebSocket connections after one closed', (v) => v.websocket === '2' && v.channels['room:a'] === 3);
  assert.ok(s.seq > seq, 'new snapshots arrived');

  // A subscriber that stops reading: the server disconnects it and the page says so.
  stalledSseClient('bulk:slow');
  await until(page, 'the stalled subscriber', (v) => v.sse === '3' && v.channels['bulk:slow'] === 1);
  const big = 'x'.repeat(60000);
  for (let i = 0; i < 10; ++i) {
    await publish(Array.from({ length: 5 }, (_, k) => ({ channel: 'bulk:slow', data: { i, k, big } })));
  }
  s = await until(page, 'a slow-consumer disconnect',
    (v) => v.slowDisconnects.startsWith('1') && v.sse === '2' && v.events.some((e) => e.startsWith('slow_consumer_disconnect')));
  assert.match(s.events[0], /1 slow subscriber disconnected/);

  // Traffic for the picture: a chart with some history.
  const steady = publisher('room:a', 60);
  const steady2 = publisher('room:b', 150);
  await sleep(7000);
  s = await shown(page);
  assert.ok(Number(s.publishRate) > 0, `publish rate ${s.publishRate}`);
  await page.screenshot({ path: screenshotPath('inspector.png') });
  if (process.env.HERALD_UPDATE_DOCS === '1') {
    fs.copyFileSync(screenshotPath('inspector.png'), path.join(SOURCE_DIR, 'docs', 'inspector.png'));
  }
  await steady.stop();
  await steady2.stop();
  assert.deepEqual(errors, []);
  await context.close();
});

test('with a publish key, the inspector shows nothing without it or a token with the inspect right', async () => {
  const context = await browser.newContext({ viewport: { width: 1000, height: 600 } });
  const page = await context.newPage();
  await page.goto(`${herald.url}/inspect/`);
  let s = await until(page, 'the key form', (v) => v.locked);
  assert.equal(s.dashboard, false);
  assert.equal(s.seq, 0, 'no snapshot reached the page');
  assert.match(s.lockedWhy, /publish key/);

  await page.goto(`${herald.url}/inspect/?key=wrong`);
  s = await until(page, 'the key refused', (v) => v.locked);
  assert.match(s.lockedWhy, /not accepted/);
  assert.equal(s.seq, 0);

  // The form takes the key and the page opens.
  await page.fill('#key-input', KEY);
  await page.click('#key-form button');
  s = await until(page, 'the dashboard after the key was entered', (v) => v.dashboard && v.seq > 0);
  assert.equal(s.locked, false);

  // A token: it opens the page only if it grants the inspector.
  const now = Math.floor(Date.now() / 1000);
  await page.goto(`${herald.url}/inspect/?token=${token({ sub: 'ops', inspect: true, exp: now + 600 })}`);
  s = await until(page, 'the dashboard with an inspector token', (v) => v.dashboard && v.seq > 0);
  await page.goto(`${herald.url}/inspect/?token=${token({ sub: 'u1', channels: ['*'], exp: now + 600 })}`);
  s = await until(page, 'a token without the right refused', (v) => v.locked);
  assert.match(s.lockedWhy, /token was not accepted: .*does not grant the inspector/);
  assert.equal(s.seq, 0);

  // The stream itself: 401 with a reason without the key, a stream with it as a header.
  const status = (headers, query = '') => new Promise((resolve) => {
    const req = http.get(`${herald.url}/api/inspect/stream${query}`, { headers }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; if (res.statusCode === 200) { req.destroy(); resolve({ code: 200, body }); } });
      res.on('end', () => resolve({ code: res.statusCode, body }));
    });
    req.on('error', () => {});
  });
  const refused = await status({});
  assert.equal(refused.code, 401);
  assert.equal(JSON.parse(refused.body).error.code, 'unauthorized');
  assert.equal((await status({ Authorization: 'Bearer nope' })).code, 401);
  assert.equal((await status({ Authorization: `Bearer ${KEY}` })).code, 200);
  assert.equal((await status({}, `?token=${token({ inspect: true, exp: now + 600 })}`)).code, 200);
  assert.equal((await status({}, `?token=${token({ inspect: false })}`)).code, 403);
  const expired = await status({}, `?token=${token({ inspect: true, exp: now - 10 })}`);
  assert.equal(expired.code, 401);
  assert.equal(JSON.parse(expired.body).error.code, 'token_expired');
  await context.close();
});
