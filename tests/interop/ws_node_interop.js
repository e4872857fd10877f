// Herald's WebSocket against Node's `ws` library (tests/node_modules): subscribe,
// receive, resume with since, close cleanly. Run with HERALD_URL set.
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const WebSocket = require(path.join(__dirname, '..', 'node_modules', 'ws'));

const base = process.env.HERALD_URL;
const wsBase = base.replace('http://', 'ws://');

async function publish(channel, data) {
  const res = await fetch(base + '/api/publish', {
    method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({channel, data}),
  });
  assert.equal(res.status, 200);
  return (await res.json()).id;
}

function open(url) {
  const ws = new WebSocket(url, ['herald.v1']);
  const frames = [];
  let wake = null;
  ws.on('message', (data, isBinary) => {
    assert.equal(isBinary, false);
    frames.push(JSON.parse(data.toString()));
    if (wake) wake();
  });
  const next = async (op, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = frames.findIndex((f) => f.op === op);
      if (i >= 0) return frames.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error('no ' + op + ' frame within ' + timeoutMs + ' ms');
      await new Promise((r) => { wake = r; setTimeout(r, 50); });
    }
  };
  const opened = new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  return {ws, next, opened, frames};
}

(async () => {
  const a = open(wsBase + '/ws?channel=node:a');
  await a.opened;
  assert.equal(a.ws.protocol, 'herald.v1');
  const sub = await a.next('subscribed');
  assert.equal(sub.recovered, true);
  const ids = [];
  for (let i = 0; i < 20; i++) ids.push(await publish('node:a', {n: i}));
  const got = [];
  for (let i = 0; i < 20; i++) got.push(await a.next('message'));
  assert.deepEqual(got.map((m) => m.data.n), [...Array(20).keys()]);
  assert.deepEqual(got.map((m) => m.id), ids);
  // ws answers the server's pings itself; a ping command gets the protocol's pong.
  a.ws.send(JSON.stringify({op: 'ping'}));
  await a.next('pong');
  const closed = new Promise((r) => a.ws.once('close', (code) => r(code)));
  a.ws.close(1000, 'done');
  assert.equal(await closed, 1000);

  const b = open(wsBase + '/ws?channel=node:a&since=' + ids[4]);
  await b.opened;
  assert.equal((await b.next('subscribed')).recovered, true);
  const resumed = [];
  for (let i = 0; i < 15; i++) resumed.push(await b.next('message'));
  assert.deepEqual(resumed.map((m) => m.id), ids.slice(5));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(b.frames.filter((f) => f.op === 'message').length, 0, 'no duplicate after the resume');
  b.ws.close(1000);
  console.log('node ws interop: ok');
})().catch((e) => {
  console.error('node ws interop failed:', e);
  process.exit(1);
});
