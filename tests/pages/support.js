'use strict';
// Shared by the page tests: a herald on a free loopback port, headless Chromium
// through playwright-core, and a place for the screenshots.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { launchChromium: launchChromiumIn } = require('../browser/support/browser.js');

const SOURCE_DIR = path.resolve(__dirname, '..', '..');
const OUT_DIR = process.env.HERALD_PAGES_OUT || path.join(os.tmpdir(), 'herald-pages');

function need(name) {
  const v = process.env[name];
  if (!v) { throw new Error(`${name} is not set (ctest sets it; by hand: ${name}=/path/to/binary node --test ...)`); }
  return v;
}

// Starts herald serving this checkout's clients/ folder; resolves to {url, pid, stop}.
function startHerald(extraArgs = []) {
  const bin = need('HERALD_BINARY');
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--log-level', 'warn',
    '--static-dir', path.join(SOURCE_DIR, 'clients'), ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`herald did not start: ${out}`)); }, 10000);
    const onData = (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (!m) { return; }
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({
        url: m[1],
        pid: child.pid,
        output: () => out,
        stop: () => new Promise((r) => {
          if (child.exitCode !== null || child.signalCode !== null) { r(); return; }
          child.once('exit', () => r());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 3000).unref();
        }),
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => { out += d; });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`herald exited (${code}): ${out}`)); });
  });
}

// Headless Chromium launched as the browser tests launch it (the flags that work as root
// in a sandbox without network); its config and cache stay in a temporary folder.
async function launchChromium() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-pages-chromium-'));
  const browser = await launchChromiumIn(home);
  const close = browser.close.bind(browser);
  browser.close = async () => {
    await close();
    fs.rmSync(home, { recursive: true, force: true });
  };
  return browser;
}

// Runs a program to its end; resolves to {code, stdout, stderr}.
function run(bin, args, { timeout = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${bin} ran past ${timeout} ms\n${stdout}\n${stderr}`)); }, timeout);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

function screenshotPath(name) {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  return path.join(OUT_DIR, name);
}

module.exports = { SOURCE_DIR, need, startHerald, launchChromium, run, screenshotPath };
