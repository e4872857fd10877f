'use strict';
// One source, three ways to load it: <script> (global), CommonJS, ES module.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { spawnSync } = require('node:child_process');

const DIR = path.join(__dirname, '..');
const SRC = fs.readFileSync(path.join(DIR, 'herald.js'), 'utf8');

test('CommonJS: module.exports is the constructor, and no global leaks', () => {
  const Herald = require('../herald.js');
  assert.strictEqual(typeof Herald, 'function');
  assert.strictEqual(typeof Herald.prototype.subscribe, 'function');
  assert.strictEqual(globalThis.Herald, undefined);
});

test('classic <script>: defines the global Herald (window-like self, and plain this)', () => {
  const win = { setTimeout, clearTimeout };
  win.self = win;
  vm.createContext(win);
  vm.runInContext(SRC, win, { filename: 'herald.js' });
  assert.strictEqual(typeof win.Herald, 'function');
  const h = new win.Herald('http://x', { transports: [] });
  assert.strictEqual(h.state(), 'disconnected');

  const bare = vm.createContext({});
  vm.runInContext(SRC, bare);
  assert.strictEqual(typeof vm.runInContext('Herald', bare), 'function');
});

test('ES module in Node: default and named export are the CommonJS value', async () => {
  const m = await import('../herald.mjs');
  assert.strictEqual(m.default, require('../herald.js'));
  assert.strictEqual(m.Herald, m.default);
});

test('ES module in a browser: herald.js runs as a module (no exports, strict, this undefined) and herald.mjs still exports Herald', (t) => {
  // A browser's import graph, emulated with vm modules (needs --experimental-vm-modules, so a child process).
  const script = `
    const vm = require('vm'), fs = require('fs'), path = require('path');
    const dir = process.argv[1];
    const win = {}; win.self = win; win.setTimeout = setTimeout; win.clearTimeout = clearTimeout;
    const ctx = vm.createContext(win);
    const mod = (f) => new vm.SourceTextModule(fs.readFileSync(path.join(dir, f), 'utf8'), { context: ctx, identifier: f });
    (async () => {
      const entry = mod('herald.mjs');
      await entry.link((spec) => { if (spec !== './herald.js') throw new Error('unexpected import ' + spec); return mod('herald.js'); });
      await entry.evaluate();
      const H = entry.namespace.default;
      if (typeof H !== 'function' || entry.namespace.Herald !== H || win.Herald !== H) { console.error('bad exports'); process.exit(1); }
      if (new H('http://x', { transports: [] }).state() !== 'disconnected') process.exit(1);
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['--experimental-vm-modules', '--no-warnings', '-e', script, DIR], { encoding: 'utf8' });
  if (/bad option/i.test(r.stderr || '')) { t.skip('no vm modules in this Node'); return; }
  assert.strictEqual(r.status, 0, r.stderr);
});

test('herald.mjs imports only herald.js and holds no copy of the client', () => {
  const mjs = fs.readFileSync(path.join(DIR, 'herald.mjs'), 'utf8');
  const imports = [...mjs.matchAll(/^\s*import\b.*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
  assert.deepStrictEqual(imports, ['./herald.js']);
  assert.ok(mjs.split('\n').length < 30);
});
