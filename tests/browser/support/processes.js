'use strict';
// Child processes of the browser tests (Herald, nginx) and the HTTP calls the
// runner makes to Herald. Every child is tracked so that a failing test, or
// the runner dying, still leaves nothing running.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const SOURCE_DIR = process.env.HERALD_SOURCE_DIR || path.resolve(__dirname, '..', '..', '..');
const HERALD_BINARY = process.env.HERALD_BINARY || path.join(SOURCE_DIR, 'build', 'src', 'server', 'herald');
const NGINX_BINARY = process.env.HERALD_NGINX || '/usr/sbin/nginx';

const live = new Set();
function killAll() {
  for (const child of live) {
    try { process.kill(child.pid, 'SIGKILL'); } catch (e) { /* already gone */ }
  }
}
process.on('exit', killAll);
// A signal ends Node without 'exit' handlers unless it is caught.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAll(); process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)); });
}
// When whoever reads the test report goes away (`node --test ... | head`),
// the runner dies of EPIPE inside its own exception handler, which skips
// 'exit' handlers: stop here instead.
process.stdout.on('error', () => { killAll(); process.exit(1); });

// Publishes go one at a time over one kept-alive connection.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Starts `command`, keeps its output for diagnostics, and resolves `exited`
// when it ends. stop() sends SIGTERM, then SIGKILL after `graceMs`.
function startProcess(name, command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const proc = { name, child, out: '', err: '', exitCode: undefined, killedHard: false };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => { proc.out += d; });
  child.stderr.on('data', (d) => { proc.err += d; });
  proc.exited = new Promise((resolve) => {
    child.on('error', (e) => { proc.err += String(e); live.delete(child); proc.exitCode = -1; resolve(-1); });
    child.on('exit', (code, signal) => { live.delete(child); proc.exitCode = code == null ? signal : code; resolve(proc.exitCode); });
  });
  proc.stop = async (graceMs = 3000) => {
    if (proc.exitCode !== undefined) { return proc.exitCode; }
    child.kill('SIGTERM');
    const timer = setTimeout(() => { proc.killedHard = true; child.kill('SIGKILL'); }, graceMs);
    const code = await proc.exited;
    clearTimeout(timer);
    return code;
  };
  proc.log = () => `--- ${name} stdout ---\n${proc.out}\n--- ${name} stderr ---\n${proc.err}`;
  return proc;
}

// Starts Herald on the embedded broker and waits for its "listening" line.
// `port` 0 lets it pick one; a restart passes the previous port, which may
// take a moment to be free again.
// `args`: more herald flags (e.g. --config for presence).
async function startHerald({ port = 0, heartbeat = 1000, args = [] } = {}) {
  if (!fs.existsSync(HERALD_BINARY)) {
    throw new Error(`Herald binary not found at ${HERALD_BINARY}: build it (ninja -C build herald) or set HERALD_BINARY`);
  }
  for (let attempt = 0; ; attempt++) {
    try {
      return await startHeraldOnce(port, heartbeat, args);
    } catch (e) {
      if (port === 0 || attempt >= 30 || !/cannot listen/.test(e.message)) { throw e; }
      await sleep(100);
    }
  }
}

async function startHeraldOnce(port, heartbeat, args) {
  const proc = startProcess('herald', HERALD_BINARY, ['--listen', `127.0.0.1:${port}`, '--log-level', 'warn',
    '--heartbeat', String(heartbeat), '--static-dir', path.join(SOURCE_DIR, 'clients'), ...args]);
  const deadline = Date.now() + 10000;
  for (;;) {
    const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))\/?/.exec(proc.out);
    if (m) {
      proc.url = m[1];
      proc.port = Number(m[2]);
      // A restart on the same port must not meet a keep-alive socket of the old server.
      const stop = proc.stop;
      proc.stop = async (graceMs) => { const code = await stop(graceMs); agent.destroy(); return code; };
      return proc;
    }
    if (proc.exitCode !== undefined || Date.now() > deadline) {
      await proc.stop(500);
      throw new Error(`Herald did not start (exit ${proc.exitCode})\n${proc.log()}`);
    }
    await sleep(20);
  }
}

// POST /api/publish; resolves the cursor Herald assigned.
function publish(baseUrl, channel, data) {
  const body = JSON.stringify({ channel, data });
  return new Promise((resolve, reject) => {
    const req = http.request(`${baseUrl}/api/publish`, {
      method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        if (res.statusCode !== 200) { reject(new Error(`publish ${data} got HTTP ${res.statusCode}: ${text}`)); return; }
        resolve(JSON.parse(text).id);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Publishes from..to in order, one at a time, so cursors follow the numbers.
async function publishRange(baseUrl, channel, from, to, pauseMs = 0) {
  for (let n = from; n <= to; n++) {
    await publish(baseUrl, channel, n);
    if (pauseMs) { await sleep(pauseMs); }
  }
}

// Publishes 1, 2, 3 ... every `intervalMs` until stop(); stop() resolves the
// last number published.
function startPublisher(baseUrl, channel, intervalMs, from = 1) {
  let next = from, running = true, failure = null;
  const loop = (async () => {
    while (running) {
      try { await publish(baseUrl, channel, next); } catch (e) { failure = e; return; }
      next++;
      await sleep(intervalMs);
    }
  })();
  return {
    published: () => next - 1,
    stop: async () => {
      running = false;
      await loop;
      if (failure) { throw failure; }
      return next - 1;
    },
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

// nginx in front of Herald, one process (master_process off) with its prefix,
// temp folders and config under `dir`. Both modes leave out the Upgrade and
// Connection headers, so the WebSocket handshake reaches Herald as a plain
// HTTP/1.x GET and fails.
//   'no-upgrade': HTTP/1.1 to Herald; SSE flows (Herald sends X-Accel-Buffering: no).
//   'buffering':  HTTP/1.0 to Herald, X-Accel-Buffering ignored and room to
//                 buffer everything: a response reaches the browser only once
//                 it has ended, so SSE never arrives but long-poll answers do.
async function startNginx(dir, upstreamPort, mode) {
  fs.mkdirSync(dir, { recursive: true });
  const location = mode === 'buffering'
    ? ['proxy_http_version 1.0;', 'proxy_buffering on;', 'proxy_ignore_headers X-Accel-Buffering;',
      'proxy_buffer_size 64k;', 'proxy_buffers 64 64k;', 'proxy_busy_buffers_size 128k;']
    : ['proxy_http_version 1.1;', 'proxy_set_header Connection "";'];
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(conf, [
      'daemon off;', 'master_process off;', `pid ${dir}/nginx.pid;`, 'error_log stderr warn;',
      'events { worker_connections 512; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t}_temp;`),
      '  server {',
      `    listen 127.0.0.1:${port};`,
      '    location / {',
      `      proxy_pass http://127.0.0.1:${upstreamPort};`,
      ...location.map((l) => `      ${l}`),
      '    }',
      '  }',
      '}', ''].join('\n'));
    const proc = startProcess(`nginx(${mode})`, NGINX_BINARY, ['-p', `${dir}/`, '-c', conf, '-e', 'stderr']);
    const deadline = Date.now() + 5000;
    while (proc.exitCode === undefined && Date.now() < deadline && !(await canConnect(port))) { await sleep(25); }
    if (proc.exitCode === undefined && await canConnect(port)) {
      proc.port = port;
      proc.url = `http://127.0.0.1:${port}`;
      return proc;
    }
    await proc.stop(500);
    // Another process may have taken the port between freePort() and bind().
    if (attempt >= 2 || !/Address already in use/.test(proc.err)) {
      throw new Error(`nginx did not start\n${proc.log()}`);
    }
  }
}

module.exports = { SOURCE_DIR, HERALD_BINARY, NGINX_BINARY, sleep, startProcess, startHerald, publish, publishRange, startPublisher,
  freePort, startNginx };
