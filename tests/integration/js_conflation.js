// herald.js (clients/js) against the real server on a "latest" namespace, over Node's
// `ws` library: the page's thread is stuck (a callback that blocks), so nothing reads
// the socket while a publisher in another process sends a few MiB; once the callback
// returns, herald.js reports the server's gap notice as a `gap` event with the
// skipped count and delivers the newest message, in order, each message once.
// Run by tests/with_herald.sh with --config slow_consumer_config.json.
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const Herald = require(path.join(__dirname, '..', '..', 'clients', 'js', 'herald.js'));
const WebSocket = require(path.join(__dirname, '..', 'node_modules', 'ws'));

const base = process.env.HERALD_URL;
const channel = 'scores:js-stuck';
const MESSAGES = 240;  // 1 small, then 239 of 60 KB: twice what the kernel takes (a few MiB)

// Publishes from another process, so this one is blocked meanwhile (spawnSync).
const publisher = `
  const base = ${JSON.stringify(base)}, channel = ${JSON.stringify(channel)};
  (async () => {
    for (let n = 1; n < ${MESSAGES}; n += 10) {
      const batch = [];
      for (let i = n; i < Math.min(n + 10, ${MESSAGES}); i++) batch.push({ channel, data: { n: i, pad: 'p'.repeat(60000) } });
      const r = await fetch(base + '/api/publish', { method: 'POST', body: JSON.stringify(batch) });
      if (r.status !== 200) process.exit(1);
    }
  })();`;

async function main() {
  const h = new Herald(base, { transports: ['websocket'], env: { WebSocket } });
  const got = [];
  const gaps = [];
  const errors = [];
  h.on('gap', (g) => gaps.push(g));
  h.on('error', (e) => errors.push(e));
  let stuck = false;
  h.subscribe(channel, (m) => {
    got.push(m.data.n);
    if (stuck) return;
    stuck = true;
    const r = spawnSync(process.execPath, ['-e', publisher], { stdio: 'inherit', timeout: 60000 });
    assert.equal(r.status, 0, 'every publish answered 200');
  });
  const deadline = Date.now() + 20000;
  while (h.cursor(channel) == null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(h.cursor(channel) != null, 'subscribed');
  const res = await fetch(base + '/api/publish', { method: 'POST', body: JSON.stringify({ channel, data: { n: 0 } }) });
  assert.equal(res.status, 200);
  while (got[got.length - 1] !== MESSAGES - 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  h.close();

  console.log('received %d messages, gaps %j', got.length, gaps);
  assert.equal(got[got.length - 1], MESSAGES - 1, 'the newest message arrived');
  for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], 'in order, each once');
  assert.ok(gaps.length > 0, 'a gap was reported');
  let skipped = 0;
  for (const g of gaps) {
    assert.equal(g.channel, channel);
    assert.ok(g.skipped > 0);
    skipped += g.skipped;
  }
  assert.equal(got.length + skipped, MESSAGES, 'received + skipped = published');
  assert.ok(got.length < MESSAGES / 2, 'no backlog was delivered');
  assert.deepEqual(errors, []);
  console.log('all passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
