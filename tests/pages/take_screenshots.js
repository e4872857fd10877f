'use strict';
// Regenerates the README's screenshots, docs/scores.png and docs/compare.png, from
// the real pages in headless Chromium. Not a test; run it by hand:
//   HERALD_BINARY=build/src/server/herald HERALD_SCORES_BINARY=build/herald-scores \
//     node tests/pages/take_screenshots.js [output folder, default docs/]

const path = require('node:path');
const { spawn } = require('node:child_process');
const { SOURCE_DIR, need, startHerald, launchChromium } = require('./support.js');

const OUT = path.resolve(process.argv[2] || path.join(SOURCE_DIR, 'docs'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function scores(browser, herald) {
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 780 } })).newPage();
  await page.goto(`${herald.url}/scores/`);
  await page.waitForSelector('#transport.connected');
  // Four matches at 4 game minutes a second: about an hour played after 17 s.
  const sim = spawn(need('HERALD_SCORES_BINARY'), ['--url', herald.url, '--matches', '4', '--speed', '4', '--seed', '21',
    '--quiet'], { stdio: 'ignore' });
  await sleep(17000);
  await page.screenshot({ path: path.join(OUT, 'scores.png') });
  sim.kill();
}

async function compare(browser, herald) {
  const page = await (await browser.newContext({ viewport: { width: 1240, height: 730 } })).newPage();
  await page.goto(`${herald.url}/compare/`);
  await page.waitForFunction(() => document.querySelectorAll('.panel[data-state="connected"]').length === 3);
  // A steady stream, then a burst: the chart shows both, p50 is the stream's.
  await page.selectOption('#stream', '20');
  await sleep(9000);
  await page.fill('#burst-size', '100');
  await page.click('#burst');
  await sleep(3000);
  await page.selectOption('#stream', '0');
  await sleep(300);
  await page.screenshot({ path: path.join(OUT, 'compare.png') });
}

(async () => {
  const herald = await startHerald();
  const browser = await launchChromium();
  try {
    await scores(browser, herald);
    await compare(browser, herald);
  } finally {
    await browser.close();
    await herald.stop();
  }
  console.log(`wrote ${path.join(OUT, 'scores.png')} and ${path.join(OUT, 'compare.png')}`);
})().catch((e) => { console.error(e); process.exit(1); });
