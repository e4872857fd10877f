'use strict';
// Delivery latency of herald.js's SSE transport in headless Chromium, read through
// fetch streams (the default where bodies stream) and through XHR streaming (the
// fallback, forced by hiding ReadableStream from the client). One herald, one page
// per reader, messages published one at a time from here; latency is the page's
// clock at delivery minus the publish time carried in the message (one machine,
// one clock).
//
//   node bench/browser_sse_latency.js [MESSAGES] [INTERVAL_MS]
//
// Needs a built herald (build/src/server/herald, or HERALD_BINARY) and
// tests/node_modules (cd tests && npm install).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startHerald, publish, sleep } = require('../tests/browser/support/processes.js');
const { launchChromium } = require('../tests/browser/support/browser.js');

const MESSAGES = Number(process.argv[2] || 300);
const INTERVAL_MS = Number(process.argv[3] || 20);

function quantile(sorted, q) { return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]; }

async function measure(browser, herald, reader) {
  const page = await browser.newPage();
  await page.goto(`${herald.url}/herald.js`);
  await page.addScriptTag({ url: '/herald.js' });
  const channel = `latency-${reader}`;
  await page.evaluate(({ channel, reader }) => {
    window.latencies = [];
    window.reader = null;
    const h = new window.Herald(location.origin, {
      transports: ['sse'], env: reader === 'xhr' ? { ReadableStream: null } : {},
    });
    h.on('transport', (t) => { window.reader = t.name || t; });
    h.subscribe(channel, (m) => { window.latencies.push(Date.now() - m.data.t); });
  }, { channel, reader });
  for (let i = 0; i < 100 && !(await page.evaluate(() => window.reader)); i++) { await sleep(50); }
  for (let i = 0; i < MESSAGES; i++) {
    await publish(herald.url, channel, { t: Date.now(), i });
    await sleep(INTERVAL_MS);
  }
  for (let i = 0; i < 100 && (await page.evaluate(() => window.latencies.length)) < MESSAGES; i++) { await sleep(50); }
  const got = (await page.evaluate(() => window.latencies)).sort((a, b) => a - b);
  await page.close();
  return { reader, received: got.length, p50: quantile(got, 0.5), p90: quantile(got, 0.9), p99: quantile(got, 0.99), max: got[got.length - 1] };
}

(async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-sse-latency-'));
  const herald = await startHerald({ heartbeat: 15000 });
  const browser = await launchChromium(tmp);
  try {
    console.log(`herald.js SSE in Chromium: ${MESSAGES} messages, one every ${INTERVAL_MS} ms (${new Date().toISOString()})`);
    console.log('reader  received  p50 ms  p90 ms  p99 ms  max ms');
    for (const reader of ['fetch', 'xhr', 'fetch', 'xhr']) {
      const r = await measure(browser, herald, reader);
      console.log(`${r.reader.padEnd(6)}  ${String(r.received).padStart(8)}  ${String(r.p50).padStart(6)}  ${String(r.p90).padStart(6)}  ${String(r.p99).padStart(6)}  ${String(r.max).padStart(6)}`);
    }
  } finally {
    await browser.close();
    await herald.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
