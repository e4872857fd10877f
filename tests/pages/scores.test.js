'use strict';
// The live scores page (/scores/) in headless Chromium while herald-scores plays a
// round: every match gets a card, the cards follow the simulator to the final
// whistle, and a page held to long-polling ends up showing the same as one on
// WebSocket.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { need, startHerald, launchChromium, run, screenshotPath } = require('./support.js');

const MATCHES = 4;
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

async function openScores(query) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 820 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${herald.url}/scores/${query}`);
  await page.waitForSelector('#transport.connected', { timeout: 10000 });
  return { page, errors };
}

// What a page shows, card by card: {m1: {phase, home, homeScore, away, awayScore, events}}.
function cardsOf(page) {
  return page.evaluate(() => {
    const out = {};
    for (const card of document.querySelectorAll('.match')) {
      const team = (side) => card.querySelector(`.team.${side}`);
      out[card.getAttribute('data-match')] = {
        phase: card.getAttribute('data-phase'),
        home: team('home').querySelector('.name').textContent,
        homeScore: Number(team('home').querySelector('.score').textContent),
        away: team('away').querySelector('.name').textContent,
        awayScore: Number(team('away').querySelector('.score').textContent),
        events: card.querySelector('.events').textContent,
      };
    }
    return out;
  });
}

test('the scores page shows every match and follows the simulator to the final whistle', async () => {
  const ws = await openScores('');
  const lp = await openScores('?transports=longpoll');
  assert.equal(await ws.page.textContent('#transport-name'), 'websocket');
  assert.equal(await lp.page.textContent('#transport-name'), 'longpoll');
  assert.equal(await ws.page.locator('.match').count(), 0, 'no match before the simulator starts');

  // About 110 game minutes at 40 a second: under 3 s.
  const sim = run(need('HERALD_SCORES_BINARY'),
    ['--url', herald.url, '--matches', String(MATCHES), '--speed', '40', '--seed', '3']);

  await ws.page.waitForFunction((n) => document.querySelectorAll('.match').length === n, MATCHES, { timeout: 10000 });
  const early = await cardsOf(ws.page);
  assert.equal(Object.keys(early).length, MATCHES);
  // A goal shows up in a card's recent events, with the scorer the simulator named.
  const goal = await ws.page.waitForSelector('.match .events li.goal', { timeout: 10000 });
  const scorer = await goal.$eval('.who b', (b) => b.textContent);

  const result = await sim;
  assert.equal(result.code, 0, result.stderr);
  // "  m1 Valemont 3-0 FC Eisenthal"
  const finals = {};
  for (const m of result.stdout.matchAll(/^ {2}(m\d+) (.+) (\d+)-(\d+) (.+)$/gm)) {
    finals[m[1]] = { home: m[2], homeScore: Number(m[3]), awayScore: Number(m[4]), away: m[5] };
  }
  assert.equal(Object.keys(finals).length, MATCHES, result.stdout);
  assert.ok(result.stdout.includes(`GOAL `) && result.stdout.includes(`(${scorer}`),
    `the page's scorer ${scorer} is one the simulator reported`);

  for (const { page } of [ws, lp]) {
    await page.waitForFunction(() => [...document.querySelectorAll('.match')].every((c) => c.getAttribute('data-phase') === 'FT'),
      null, { timeout: 10000 });
    const cards = await cardsOf(page);
    for (const [id, f] of Object.entries(finals)) {
      const c = cards[id];
      assert.deepEqual({ home: c.home, homeScore: c.homeScore, awayScore: c.awayScore, away: c.away }, f, `card ${id}`);
      assert.match(c.events, /Full-time/, `card ${id} lists the final whistle`);
    }
    assert.match(await page.textContent('#subtitle'), new RegExp(`${MATCHES} matches · 0 live`));
  }
  // The text changed while the round was played: some score moved off 0-0.
  const after = await cardsOf(ws.page);
  assert.ok(Object.keys(after).some((id) => after[id].homeScore + after[id].awayScore >
    early[id].homeScore + early[id].awayScore), 'a goal appeared on the page');

  await ws.page.screenshot({ path: screenshotPath('scores.png') });
  assert.deepEqual(ws.errors, []);
  assert.deepEqual(lp.errors, []);
});
