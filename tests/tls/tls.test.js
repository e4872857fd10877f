'use strict';
// Herald over TLS (--tls-cert/--tls-key): https and wss on one port, checked with
// real clients against the real server. The test makes its own self-signed
// certificate (CN localhost, SAN localhost and 127.0.0.1) with the openssl tool;
// each client trusts exactly that certificate:
//   curl --cacert          healthz, metrics, static files, publish, SSE, long-poll
//   python3-websockets     wss with an ssl context on the certificate
//   headless Chromium      --ignore-certificate-errors-spki-list with the hash of
//                          this certificate's key (trusts it alone, not any error)
// plus a plain-HTTP client and garbage handshakes on the TLS port, a drain
// (SIGTERM) over TLS, messages larger than 64 KiB (several TLS records) on every
// transport, and bad certificate or key files at start-up.
//
//   node --test tests/tls/tls.test.js
//
// Needs curl, openssl, /usr/bin/python3 with websockets, /usr/bin/chromium and
// playwright-core in tests/node_modules. HERALD_BINARY overrides the binary.

const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const { execFile, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { SOURCE_DIR, HERALD_BINARY, sleep, startProcess } = require('../browser/support/processes.js');
const { launchChromium } = require('../browser/support/browser.js');

const PYTHON = '/usr/bin/python3';
const WSS_CLIENT = path.join(__dirname, 'wss_client.py');

let dir, cert, key;

test.before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-tls-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  cert = path.join(dir, 'cert.pem');
  key = path.join(dir, 'key.pem');
  makeCertificate(cert, key);
});

test.after(() => { if (dir) { fs.rmSync(dir, { recursive: true, force: true }); } });

function makeCertificate(certFile, keyFile) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], { stdio: 'pipe' });
}

// Runs a command to its end: { code, stdout, stderr }.
function run(command, args, timeoutMs = 20000) {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

// Starts Herald with `args` (and `env`); resolves once it prints its https URL.
async function startTlsHerald({ args = ['--tls-cert', cert, '--tls-key', key], env = {} } = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  let proc;
  try {
    proc = startProcess('herald', HERALD_BINARY, ['--listen', '127.0.0.1:0', '--log-level', 'warn',
      '--heartbeat', '1000', '--static-dir', path.join(SOURCE_DIR, 'clients'), ...args]);
  } finally {
    for (const k of Object.keys(env)) { if (k in saved) { process.env[k] = saved[k]; } else { delete process.env[k]; } }
  }
  const deadline = Date.now() + 10000;
  for (;;) {
    const m = /listening on https:\/\/127\.0\.0\.1:(\d+)\//.exec(proc.out);
    if (m) {
      proc.port = Number(m[1]);
      proc.url = `https://localhost:${proc.port}`;
      return proc;
    }
    if (proc.exitCode !== undefined || Date.now() > deadline) {
      await proc.stop(500);
      throw new Error(`Herald did not start over TLS (exit ${proc.exitCode})\n${proc.log()}`);
    }
    await sleep(20);
  }
}

// Runs body(track) and stops everything tracked; logs go with a failure.
function scenario(name, body) {
  test(name, { timeout: 90000 }, async () => {
    const held = [];
    const track = (thing) => { held.push(thing); return thing; };
    try {
      await body(track);
    } catch (e) {
      e.message += `\n${held.filter((h) => h.log).map((h) => h.log()).join('\n')}`;
      throw e;
    } finally {
      for (const h of held.reverse()) {
        try { await (h.stop ? h.stop(1000) : h.close()); } catch (e) { /* best effort */ }
      }
    }
  });
}

const curlArgs = () => ['-sS', '--max-time', '15', '--cacert', cert];

async function curlJson(url, extra = []) {
  const r = await run('curl', [...curlArgs(), ...extra, url]);
  assert.strictEqual(r.code, 0, `curl ${url} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function publish(base, channel, data) {
  const file = path.join(dir, `publish-${crypto.randomUUID()}.json`);
  fs.writeFileSync(file, JSON.stringify({ channel, data }));
  try {
    const res = await curlJson(`${base}/api/publish`, ['-H', 'Content-Type: application/json', '--data-binary', `@${file}`]);
    assert.ok(res.id, `publish answered ${JSON.stringify(res)}`);
    return res.id;
  } finally {
    fs.rmSync(file, { force: true });
  }
}

// A string of `size` ASCII characters that differ along its length, so a lost,
// repeated or reordered TLS record shows.
function bigPayload(size) {
  let s = '';
  for (let i = 0; s.length < size; i++) { s += `${i.toString(36)}.`; }
  return s.slice(0, size);
}
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

async function waitFor(what, predicate, timeoutMs, log = () => '') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = predicate();
    if (v) { return v; }
    if (Date.now() > deadline) { throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${log()}`); }
    await sleep(20);
  }
}

// The events of an SSE stream so far: [{ id, event, data }].
function sseEvents(text) {
  return text.split('\n\n').filter((block) => block.includes('data:')).map((block) => {
    const ev = {};
    for (const line of block.split('\n')) {
      const m = /^(id|event|data): ?(.*)$/.exec(line);
      if (m) { ev[m[1]] = m[2]; }
    }
    return ev;
  });
}

const jsonLines = (text) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

test('bad certificate or key files stop herald with a clear message', { timeout: 60000 }, async () => {
  const garbage = path.join(dir, 'garbage.pem');
  fs.writeFileSync(garbage, 'not a certificate\n');
  const otherCert = path.join(dir, 'other-cert.pem');
  const otherKey = path.join(dir, 'other-key.pem');
  makeCertificate(otherCert, otherKey);
  const cases = [
    { args: ['--tls-cert', path.join(dir, 'missing.pem'), '--tls-key', key],
      expect: /cannot read TLS certificate .*missing\.pem: No such file or directory/ },
    { args: ['--tls-cert', cert, '--tls-key', path.join(dir, 'missing-key.pem')],
      expect: /cannot read TLS key .*missing-key\.pem: No such file or directory/ },
    { args: ['--tls-cert', garbage, '--tls-key', key], expect: /TLS certificate .*garbage\.pem is not a usable PEM certificate/ },
    { args: ['--tls-cert', cert, '--tls-key', garbage], expect: /TLS key .*garbage\.pem is not a usable PEM private key/ },
    { args: ['--tls-cert', cert, '--tls-key', otherKey], expect: /TLS key .*other-key\.pem does not belong to certificate/ },
    { args: ['--tls-cert', cert], expect: /--tls-cert and --tls-key go together/ },
    { args: [], env: { HERALD_TLS_CERT: path.join(dir, 'missing.pem'), HERALD_TLS_KEY: key },
      expect: /cannot read TLS certificate .*missing\.pem/ },
  ];
  for (const c of cases) {
    const r = await new Promise((resolve) => {
      execFile(HERALD_BINARY, ['--listen', '127.0.0.1:0', ...c.args], { timeout: 10000, env: { ...process.env, ...c.env } },
        (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
    });
    assert.notStrictEqual(r.code, 0, `herald ${c.args.join(' ')} should fail; it printed ${r.stdout}`);
    assert.strictEqual(typeof r.code, 'number', `herald ${c.args.join(' ')} did not exit by itself (${r.code})`);
    assert.match(r.stderr, c.expect, `herald ${c.args.join(' ')}`);
    assert.doesNotMatch(r.stdout, /listening/);
  }
});

scenario('https over curl: healthz, metrics, static files, publish, SSE and long-poll with a 200 KiB message',
  async (track) => {
    // Configured through the environment this time.
    const herald = track(await startTlsHerald({ args: [], env: { HERALD_TLS_CERT: cert, HERALD_TLS_KEY: key } }));
    const base = herald.url;

    const health = await run('curl', [...curlArgs(), '-v', `${base}/healthz`]);
    assert.strictEqual(health.code, 0, health.stderr);
    assert.strictEqual(JSON.parse(health.stdout).status, 'ok');
    assert.match(health.stderr, /ALPN: server accepted http\/1\.1/);
    assert.match(health.stderr, /SSL connection using TLSv1\.[23]/);

    const metrics = await run('curl', [...curlArgs(), `${base}/metrics`]);
    assert.match(metrics.stdout, /^herald_connections\{transport="sse"\} /m);
    const js = await run('curl', [...curlArgs(), '-w', '\n%{http_code}', `${base}/herald.js`]);
    assert.match(js.stdout, /\n200$/);
    assert.ok(js.stdout.length > 20000 && js.stdout.includes('function Herald'), 'herald.js served over https');

    const sse = track(startProcess('curl-sse', 'curl', [...curlArgs(), '--max-time', '60', '-N', `${base}/sse?channel=tls:a`]));
    const subscribed = await waitFor('the SSE subscribed event', () => sseEvents(sse.out).find((e) => e.event === 'subscribed'),
      10000, sse.log);

    const big = bigPayload(200 * 1024);
    const ids = [await publish(base, 'tls:a', { n: 1 }), await publish(base, 'tls:a', big), await publish(base, 'tls:a', { n: 3 })];
    const messages = await waitFor('three SSE messages', () => {
      const got = sseEvents(sse.out).filter((e) => e.event === 'message');
      return got.length >= 3 && got;
    }, 10000, sse.log);
    assert.deepStrictEqual(messages.map((e) => e.id), ids);
    const envelopes = messages.map((e) => JSON.parse(e.data));
    assert.deepStrictEqual(envelopes[0].data, { n: 1 });
    assert.strictEqual(envelopes[1].data.length, big.length);
    assert.strictEqual(sha256(envelopes[1].data), sha256(big), 'the 200 KiB message arrived intact over SSE');
    assert.deepStrictEqual(envelopes[2].data, { n: 3 });

    // Long-poll: what followed the subscribed cursor, at once.
    const poll = await curlJson(`${base}/poll?channel=tls:a&since=${subscribed.id}&timeout=0`);
    assert.deepStrictEqual(poll.messages.map((m) => m.id), ids);
    assert.strictEqual(sha256(poll.messages[1].data), sha256(big), 'the 200 KiB message arrived intact over long-poll');

    // A held long-poll answered by a publish.
    const held = run('curl', [...curlArgs(), `${base}/poll?channel=tls:b&timeout=20`]);
    await sleep(300);
    const heldId = await publish(base, 'tls:b', big);
    const heldAnswer = await held;
    assert.strictEqual(heldAnswer.code, 0, heldAnswer.stderr);
    const heldBody = JSON.parse(heldAnswer.stdout);
    assert.deepStrictEqual(heldBody.messages.map((m) => m.id), [heldId]);
    assert.strictEqual(sha256(heldBody.messages[0].data), sha256(big));

    // A batch publish and an error answer go through TLS too.
    const batch = await curlJson(`${base}/api/publish`, ['--data-binary', '[{"channel":"tls:c","data":1},{"channel":"tls:c","data":2}]']);
    assert.strictEqual(batch.ids.length, 2);
    const bad = await run('curl', [...curlArgs(), '-w', '\n%{http_code}', '--data-binary', '{"channel":"bad name","data":1}',
      `${base}/api/publish`]);
    assert.match(bad.stdout, /"invalid_channel"[\s\S]*\n400$/);
  });

scenario('wss with python websockets: subscribe, a 300 KiB message, close handshake', async (track) => {
  const herald = track(await startTlsHerald());
  const ws = track(startProcess('wss-client', PYTHON, [WSS_CLIENT, `wss://localhost:${herald.port}/ws?channel=tls:ws`, cert, '3']));
  await waitFor('the WebSocket subscription', () => jsonLines(ws.out).find((l) => l.op === 'subscribed'), 10000, ws.log);
  assert.match(jsonLines(ws.out)[0].tls, /^TLSv1\.[23]$/);
  const big = bigPayload(300 * 1024);
  const ids = [await publish(herald.url, 'tls:ws', 'small'), await publish(herald.url, 'tls:ws', big),
    await publish(herald.url, 'tls:ws', { after: true })];
  const closed = await waitFor('the client close', () => jsonLines(ws.out).find((l) => 'closed' in l), 10000, ws.log);
  const got = jsonLines(ws.out).filter((l) => l.op === 'message');
  assert.deepStrictEqual(got.map((l) => l.id), ids);
  assert.strictEqual(got[1].len, big.length);
  assert.strictEqual(got[1].sha256, sha256(big), 'the 300 KiB message arrived intact over wss');
  // The server echoed the client's Close: a clean 1000 on both sides.
  assert.deepStrictEqual(closed, { closed: 1000, reason: '', by: 'client' });
  assert.strictEqual(await ws.exited, 0, ws.log());
});

scenario('a subscriber that stops reading: TLS writes wait for room and resume with every byte', async (track) => {
  // The outbox may hold all of it, so the server waits instead of dropping the
  // slow consumer; 7.5 MB pass the 4 MiB the kernel buffers on the server side.
  const herald = track(await startTlsHerald({ args: ['--tls-cert', cert, '--tls-key', key,
    '--max-outbox', String(64 << 20), '--max-body', String(16 << 20)] }));
  const data = [];
  for (let i = 0; i < 600; i++) { data.push(bigPayload(10 * 1024 + i)); }
  for (let i = 0; i < 10; i++) { data.splice(i * 60, 0, bigPayload(150 * 1024 + i)); }
  const reader = track(startProcess('slow-reader', PYTHON, [path.join(__dirname, 'slow_sse_reader.py'), String(herald.port),
    cert, 'tls:slow', '3', String(data.length)]));
  await waitFor('the slow reader to subscribe', () => reader.out.includes('"ready"'), 10000, reader.log);
  const file = path.join(dir, 'batch.json');
  fs.writeFileSync(file, JSON.stringify(data.map((d) => ({ channel: 'tls:slow', data: d }))));
  const answer = await curlJson(`${herald.url}/api/publish`, ['--data-binary', `@${file}`]);
  assert.strictEqual(answer.ids.length, data.length);
  assert.strictEqual(await reader.exited, 0, reader.log());
  const got = jsonLines(reader.out).filter((l) => l.id);
  assert.deepStrictEqual(got.map((l) => l.id), answer.ids, 'every message once, in order');
  got.forEach((l, i) => assert.strictEqual(l.sha256, sha256(data[i]), `message ${i} (${data[i].length} bytes) intact`));
});

scenario('a refusal written before the handshake (connection limit) reaches the client over TLS', async (track) => {
  // Herald queues the 503 as soon as it accepts; the write must wait for the
  // client's handshake and go out encrypted.
  const herald = track(await startTlsHerald({ args: ['--tls-cert', cert, '--tls-key', key, '--max-connections', '1'] }));
  const sse = track(startProcess('curl-sse', 'curl', [...curlArgs(), '--max-time', '60', '-N', `${herald.url}/sse?channel=tls:full`]));
  await waitFor('the SSE subscription', () => sse.out.includes('event: subscribed'), 10000, sse.log);
  const refused = await run('curl', [...curlArgs(), '-i', `${herald.url}/healthz`]);
  assert.strictEqual(refused.code, 0, refused.stderr);
  assert.match(refused.stdout, /^HTTP\/1\.1 503 /);
  assert.match(refused.stdout, /"code":"unavailable","message":"connection limit reached; retry later"/);
});

scenario('plain HTTP, garbage and stalled handshakes on the TLS port are refused, the server carries on', async (track) => {
  const herald = track(await startTlsHerald());
  // A client that connects and never starts the handshake is closed after the
  // request timeout (10 s), like one that never finishes its request.
  const stalled = { opened: Date.now(), closedAfter: undefined };
  const idle = net.connect(herald.port, '127.0.0.1');
  idle.on('error', () => {});
  idle.on('close', () => { stalled.closedAfter = Date.now() - stalled.opened; });
  // Plain HTTP gets a plain-text answer saying why.
  const plain = await run('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', `http://127.0.0.1:${herald.port}/healthz`]);
  assert.strictEqual(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /"tls_required"[\s\S]*use https:\/\/ or wss:\/\/[\s\S]*\n400$/);

  // A TLS record header followed by noise, and bytes that are neither TLS nor HTTP: closed.
  const noise = crypto.randomBytes(64);
  for (const bytes of [Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), noise]), Buffer.from([0, 1, 2, 3, 0xff, 0xfe])]) {
    const outcome = await new Promise((resolve) => {
      const s = net.connect(herald.port, '127.0.0.1', () => s.write(bytes));
      let received = 0;
      const timer = setTimeout(() => { s.destroy(); resolve({ closed: false, received }); }, 5000);
      s.on('data', (d) => { received += d.length; });
      s.on('error', () => {});
      s.on('close', () => { clearTimeout(timer); resolve({ closed: true, received }); });
    });
    assert.ok(outcome.closed, `the server kept a connection that sent ${bytes.toString('hex')}`);
    assert.ok(outcome.received < 64, `the server answered garbage with ${outcome.received} bytes (a TLS alert at most)`);
  }

  // A client that offers only TLS 1.1 is refused: TLS 1.2 is the floor.
  const old = await run('openssl', ['s_client', '-connect', `127.0.0.1:${herald.port}`, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], 10000);
  assert.notStrictEqual(old.code, 0);
  assert.match(old.stdout + old.stderr, /alert protocol version|no protocols available|unsupported protocol/);

  // Still serving, and nothing was routed for the refused clients.
  const health = await curlJson(`https://localhost:${herald.port}/healthz`);
  assert.strictEqual(health.status, 'ok');
  const metrics = await run('curl', [...curlArgs(), `https://localhost:${herald.port}/metrics`]);
  assert.match(metrics.stdout, /^herald_http_requests_total 2$/m, 'only the two https requests were routed');
  assert.strictEqual(herald.exitCode, undefined, 'herald is still running');

  await waitFor('the stalled handshake to be closed', () => stalled.closedAfter !== undefined, 20000);
  assert.ok(stalled.closedAfter >= 9500, `a stalled handshake was closed after ${stalled.closedAfter} ms, before the 10 s timeout`);
});

scenario('Chromium loads a Herald page over https; herald.js connects over wss, SSE and long-poll', async (track) => {
  const herald = track(await startTlsHerald());
  const base = `https://127.0.0.1:${herald.port}`;
  // Trust exactly this certificate's key, not every certificate error.
  const spki = crypto.createHash('sha256')
    .update(new crypto.X509Certificate(fs.readFileSync(cert)).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
  const browser = await launchChromium(path.join(dir, 'chromium'), [`--ignore-certificate-errors-spki-list=${spki}`]);
  track({ close: () => browser.close() });
  const page = await (await browser.newContext()).newPage();
  const sockets = [];
  page.on('websocket', (w) => sockets.push(w.url()));
  const failures = [];
  page.on('requestfailed', (r) => failures.push(`${r.url()} ${r.failure() && r.failure().errorText}`));

  // Herald's own start page, whose EventSource listens to channel demo.
  const response = await page.goto(`${base}/`);
  assert.strictEqual(response.status(), 200);
  assert.match((await response.securityDetails()).protocol, /^TLS 1\.[23]$/);
  await sleep(500);
  await publish(herald.url, 'demo', { hello: 'over https' });
  await page.waitForFunction(() => document.getElementById('log').textContent.includes('over https'), null, { timeout: 10000 });

  // herald.js from the same https origin, one client per transport.
  await page.evaluate(() => new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = '/herald.js';
    s.onload = resolve;
    s.onerror = () => reject(new Error('herald.js did not load'));
    document.head.appendChild(s);
  }));
  const transports = ['websocket', 'sse', 'longpoll'];
  await page.evaluate((names) => {
    window.rec = {};
    for (const name of names) {
      const r = window.rec[name] = { transports: [], messages: [], errors: [] };
      const h = new window.Herald(location.origin, { transports: [name] });
      h.on('transport', (t) => r.transports.push(t));
      h.on('error', (e) => r.errors.push(`${e.code} ${e.message}`));
      h.subscribe(`tls:browser-${name}`, (m) => r.messages.push(m.data));
    }
  }, transports);
  await page.waitForFunction((names) => names.every((n) => window.rec[n].transports.length > 0), transports, { timeout: 15000 })
    .catch(async (e) => { throw new Error(`${e.message}\n${JSON.stringify(await page.evaluate(() => window.rec))}\n${failures}`); });
  await sleep(300);  // a long-poll's first request is held by now
  const big = bigPayload(100 * 1024);
  for (const name of transports) {
    await publish(herald.url, `tls:browser-${name}`, 1);
    await publish(herald.url, `tls:browser-${name}`, big);
    await publish(herald.url, `tls:browser-${name}`, 3);
  }
  await page.waitForFunction((names) => names.every((n) => window.rec[n].messages.length >= 3), transports, { timeout: 15000 })
    .catch(async (e) => { throw new Error(`${e.message}\n${JSON.stringify(await page.evaluate(() => window.rec))}\n${failures}`); });
  const rec = await page.evaluate(() => window.rec);
  for (const name of transports) {
    assert.deepStrictEqual(rec[name].transports, [name], `${name}: ${JSON.stringify(rec[name].errors)}`);
    assert.strictEqual(rec[name].messages.length, 3, name);
    assert.strictEqual(rec[name].messages[0], 1);
    assert.strictEqual(sha256(rec[name].messages[1]), sha256(big), `${name}: the 100 KiB message arrived intact`);
    assert.strictEqual(rec[name].messages[2], 3);
  }
  assert.ok(sockets.length > 0 && sockets.every((u) => u.startsWith(`wss://127.0.0.1:${herald.port}/ws`)),
    `WebSocket URLs: ${sockets}`);
});

scenario('SIGTERM drains TLS streams: wss closes with 1001, SSE ends with its reconnect hint', async (track) => {
  const herald = track(await startTlsHerald());
  const ws = track(startProcess('wss-client', PYTHON, [WSS_CLIENT, `wss://localhost:${herald.port}/ws?channel=tls:d`, cert, '0']));
  const sse = track(startProcess('curl-sse', 'curl', [...curlArgs(), '--max-time', '60', '-N', `${herald.url}/sse?channel=tls:d`]));
  await waitFor('the WebSocket subscription', () => jsonLines(ws.out).find((l) => l.op === 'subscribed'), 10000, ws.log);
  await waitFor('the SSE subscription', () => sse.out.includes('event: subscribed'), 10000, sse.log);
  await publish(herald.url, 'tls:d', 'before the drain');
  await waitFor('the message on both', () => jsonLines(ws.out).some((l) => l.op === 'message') && sse.out.includes('before the drain'),
    10000, () => ws.log() + sse.log());

  herald.child.kill('SIGTERM');
  const closed = await waitFor('the server close', () => jsonLines(ws.out).find((l) => 'closed' in l), 10000, ws.log);
  assert.strictEqual(closed.closed, 1001);
  assert.strictEqual(closed.by, 'server');
  assert.strictEqual(await sse.exited, 0, `curl ended the drained SSE stream cleanly\n${sse.log()}`);
  assert.match(sse.out, /retry: 500\n: server shutting down/);
  assert.strictEqual(await ws.exited, 0, ws.log());
  assert.strictEqual(await herald.exited, 0, herald.log());
});
