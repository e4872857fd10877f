'use strict';
// Headless Chromium through playwright-core, the tiny server for the test
// page, and a driver for one page running one Herald client.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { SOURCE_DIR } = require('./processes.js');

const CHROMIUM = process.env.HERALD_CHROMIUM || '/usr/bin/chromium';
const PAGES_DIR = path.join(__dirname, '..', 'pages');

function loadPlaywright() {
  const dir = path.join(SOURCE_DIR, 'tests', 'node_modules', 'playwright-core');
  try {
    return require(dir);
  } catch (e) {
    throw new Error(`playwright-core is not installed in tests/node_modules: run (cd tests && npm install)\n${e.message}`);
  }
}

// One browser for the whole run; each test takes a fresh context. Playwright
// makes a fresh --user-data-dir under os.tmpdir(), pointed at `tmpDir` for the
// launch; XDG_* keep the rest of Chromium's files there too, not in $HOME.
// `extraArgs` go to Chromium as well (the tls test trusts its certificate so).
async function launchChromium(tmpDir, extraArgs = []) {
  if (!fs.existsSync(CHROMIUM)) { throw new Error(`Chromium not found at ${CHROMIUM} (set HERALD_CHROMIUM)`); }
  const { chromium } = loadPlaywright();
  for (const d of ['config', 'cache', 'tmp']) { fs.mkdirSync(path.join(tmpDir, d), { recursive: true }); }
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = path.join(tmpDir, 'tmp');
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1', ...extraArgs],
      env: { ...process.env, XDG_CONFIG_HOME: path.join(tmpDir, 'config'), XDG_CACHE_HOME: path.join(tmpDir, 'cache') },
      timeout: 30000,
    });
  } finally {
    if (savedTmp === undefined) { delete process.env.TMPDIR; } else { process.env.TMPDIR = savedTmp; }
  }
}

// Serves tests/browser/pages/ and nothing else, on an origin of its own.
function startPageServer() {
  const server = http.createServer((req, res) => {
    const name = path.basename(new URL(req.url, 'http://x').pathname);
    const file = path.join(PAGES_DIR, name);
    if (!/\.html$/.test(name) || !fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(fs.readFileSync(file));
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

// Opens pages/client.html in a fresh context and starts a Herald client on
// `base` subscribed to `channel`. `initScript` runs before any page script
// (to take browser features away).
async function openClient(browser, pageServer, { base, channel, options = {}, initScript = null }) {
  const context = await browser.newContext();
  if (initScript) { await context.addInitScript(initScript); }
  const page = await context.newPage();
  const requests = [];
  const pageErrors = [];
  page.on('request', (r) => requests.push({ url: r.url(), type: r.resourceType() }));
  // Playwright reports WebSockets apart from requests.
  page.on('websocket', (ws) => requests.push({ url: ws.url(), type: 'websocket' }));
  const failures = [];
  page.on('requestfailed', (r) => failures.push(`${r.url()} ${r.failure() ? r.failure().errorText : ''}`));
  page.on('pageerror', (e) => pageErrors.push(String(e && e.stack || e)));
  await page.goto(`${pageServer.url}/client.html`);
  await page.evaluate(({ b, c, o }) => window.heraldTest.start(b, c, o), { b: base, c: channel, o: options });

  const client = {
    page,
    requests,
    pageErrors,
    rec: () => page.evaluate(() => window.heraldTest.rec),
    // A short account of what the client reported, for failure messages.
    summary: async () => {
      const r = await client.rec();
      const nums = r.messages.map((m) => m.data);
      const received = nums.length > 40 ? `${nums.slice(0, 20)} ... ${nums.slice(-20)}` : String(nums);
      return [`  transports: ${JSON.stringify(r.transports)}`, `  states: ${JSON.stringify(r.states)}`,
        `  gaps: ${JSON.stringify(r.gaps)}`, `  errors: ${JSON.stringify(r.errors)}`,
        `  received (${nums.length}): ${received}`, `  page errors: ${JSON.stringify(pageErrors)}`,
        `  failed requests: ${JSON.stringify(failures.slice(-10))}`].join('\n');
    },
    // Waits until `predicate(rec, arg)` holds in the page.
    waitFor: async (what, predicate, arg, timeoutMs) => {
      try {
        await page.waitForFunction(({ src, a }) => {
          // The predicate travels as source text and is rebuilt in the page.
          return new Function('rec', 'arg', `return (${src})(rec, arg);`)(window.heraldTest.rec, a);
        }, { src: predicate.toString(), a: arg }, { timeout: timeoutMs, polling: 25 });
      } catch (e) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the client reported:\n${await client.summary()}`);
      }
    },
    waitForTransport: (name, timeoutMs) => client.waitFor(`transport ${name}`,
      (rec, n) => rec.transports.some((t) => t.name === n), name, timeoutMs),
    waitForMessages: (count, timeoutMs) => client.waitFor(`${count} messages`,
      (rec, n) => rec.messages.length >= n, count, timeoutMs),
    close: () => context.close(),
  };
  return client;
}

module.exports = { launchChromium, startPageServer, openClient };
