'use strict';
// The transport comparison page (/compare/) in headless Chromium: three panels, each
// a Herald client held to one transport, all receive every message of a burst
// published with the page's button, and of one published from outside the page.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startHerald, launchChromium, screenshotPath } = require('./support.js');

let herald;
let browser;

before(async () => {
  herald = await startHerald();
  browser = await launchChromium();
});

after(async () => {
  if (browser) { await browser.close(); }
  if (herald) { await herald.stop(); }
});

// What each panel shows, by transport.
function panelsOf(page) {
  return page.evaluate(() => {
    const out = {};
    for (const p of document.querySelectorAll('.panel')) {
      const stat = (k) => p.querySelector(`[data-stat="${k}"] .v`).textContent;
      const burst = p.querySelector('.burst-line');
      out[p.getAttribute('data-transport')] = {
        state: p.getAttribute('data-state'),
        received: Number(p.querySelector('.received').textContent),
        burstReceived: Number(burst.getAttribute('data-received')),
        burstExpected: Number(burst.getAttribute('data-expected')),
        p50: stat('p50'),
        p99: stat('p99'),
        bytes: stat('bytes'),
        dups: Number(stat('dups')),
        reconnects: Number(stat('reconnects')),
        requests: Number(stat('requests')),
      };
    }
    return out;
  });
}

test('every panel, each on its own transport, receives every message of a burst', async () => {
  const context = await browser.newContext({ viewport: { width: 1240, height: 860 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const channel = `compare:test-${process.pid}`;
  await page.goto(`${herald.url}/compare/?channel=${encodeURIComponent(channel)}`);
  await page.waitForFunction(() => document.querySelectorAll('.panel[data-state="connected"]').length === 3, null,
    { timeout: 15000 });
  const transports = await page.evaluate(() => window.comparePage.panels.map((p) => p.client.transport()));
  assert.deepEqual(transports, ['websocket', 'sse', 'longpoll']);

  // A burst from the page's button.
  const BURST = 250;
  await page.fill('#burst-size', String(BURST));
  await page.selectOption('#payload', '1000');
  await page.click('#burst');
  await page.waitForFunction((n) => [...document.querySelectorAll('.panel .burst-line')]
    .every((b) => Number(b.getAttribute('data-received')) === n), BURST, { timeout: 15000 });
  await page.waitForFunction(() => /published in/.test(document.getElementById('publish-status').textContent));

  // A batch published from outside the page counts too.
  const OUTSIDE = 40;
  const items = Array.from({ length: OUTSIDE }, (_, n) => ({ channel, data: { from: 'node', n } }));
  const res = await fetch(`${herald.url}/api/publish`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(items),
  });
  assert.equal(res.status, 200);
  await page.waitForFunction((n) => [...document.querySelectorAll('.panel .received')]
    .every((r) => Number(r.textContent) === n), BURST + OUTSIDE, { timeout: 15000 });

  const panels = await panelsOf(page);
  for (const name of ['websocket', 'sse', 'longpoll']) {
    const p = panels[name];
    assert.equal(p.state, 'connected', name);
    assert.equal(p.received, BURST + OUTSIDE, `${name} received every message`);
    assert.equal(p.burstReceived, BURST, name);
    assert.equal(p.burstExpected, BURST, name);
    assert.equal(p.dups, 0, `${name}: no duplicate`);
    assert.equal(p.reconnects, 0, `${name}: no reconnect`);
    assert.match(p.p50, /^\d+ ms$/, `${name}: p50 shown`);
    assert.match(p.p99, /^\d+ ms$/, `${name}: p99 shown`);
    // Mostly 1 KB messages: each costs at least its data on any transport.
    assert.ok(Number(p.bytes) > 500, `${name}: bytes per message ${p.bytes}`);
  }
  assert.equal(panels.websocket.requests, 1, 'one WebSocket');
  assert.equal(panels.sse.requests, 1, 'one event stream');
  assert.ok(panels.longpoll.requests >= 2, 'long-polling asks again after each answer');

  await page.screenshot({ path: screenshotPath('compare.png') });
  assert.deepEqual(errors, []);
});
