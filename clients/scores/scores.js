/*
 * Live scores: one Herald connection carries scores:summary, which lists the
 * matches, and one scores:<match> channel per match, which adds its events. Every
 * message holds a match's whole state, so the page needs no other source.
 *
 * Query parameters: server=<base URL> (default: this page's origin),
 * transports=websocket,sse,longpoll (an order of preference, or one to force).
 *
 * ES5 like herald.js, so the demo runs where the client runs.
 */
(function () {
  'use strict';

  var params = readQuery(window.location.search);
  var base = params.server || (window.location.protocol + '//' + window.location.host);
  var options = {};
  if (params.transports) { options.transports = params.transports.split(','); }

  var herald = new Herald(base, options);
  var cards = {};       // match id -> card
  var round = null;
  var grid = document.getElementById('matches');
  var pill = document.getElementById('transport');
  var pillName = document.getElementById('transport-name');

  document.getElementById('origin').textContent = base;

  herald.on('transport', function (name) {
    pillName.textContent = name || 'connecting';
    restart(pill, 'changed');
  });
  herald.on('state', function (s) {
    pill.className = 'transport ' + s + (hasClass(pill, 'changed') ? ' changed' : '');
    // A reconnect on the same transport fires no 'transport' event: name it here.
    pillName.textContent = s === 'connected' ? herald.transport() : s;
  });
  herald.subscribe('scores:summary', onSummary);

  // Exposed for the page tests and for poking at the demo from the console.
  window.scoresPage = { herald: herald, cards: cards };

  function onSummary(msg) {
    var d = msg.data, seen = {}, i, id;
    if (!d || !d.matches) { return; }
    round = d.round;
    for (i = 0; i < d.matches.length; i++) {
      id = d.matches[i].match;
      seen[id] = true;
      apply(card(id), d.matches[i], false);
    }
    for (id in cards) {
      if (cards.hasOwnProperty(id) && !seen[id]) { drop(id); }
    }
    showSubtitle();
  }

  function onMatch(msg) {
    var d = msg.data;
    if (d && d.match && cards[d.match]) { apply(cards[d.match], d, true); showSubtitle(); }
  }

  function showSubtitle() {
    var total = 0, live = 0, id;
    for (id in cards) {
      if (cards.hasOwnProperty(id)) {
        total++;
        if (cards[id].phase === '1H' || cards[id].phase === '2H') { live++; }
      }
    }
    document.getElementById('subtitle').textContent = total ?
      'Round ' + round + ' · ' + total + (total === 1 ? ' match' : ' matches') + ' · ' + live + ' live' :
      'Waiting for the first whistle';
    document.body.className = total ? 'has-matches' : '';
  }

  // ---- one card per match ----

  function card(id) {
    if (cards[id]) { return cards[id]; }
    var el = make('article', 'match');
    el.setAttribute('data-match', id);
    var status = make('div', 'status');
    var badge = make('span', 'badge');
    var channel = make('span', 'channel');
    channel.textContent = 'scores:' + id;
    status.appendChild(badge);
    status.appendChild(channel);
    var progress = make('span', 'progress');
    var ribbon = make('span', 'ribbon');
    ribbon.textContent = 'GOAL';
    var home = teamRow('home'), away = teamRow('away');
    var events = make('ol', 'events');
    el.appendChild(progress);
    el.appendChild(status);
    el.appendChild(ribbon);
    el.appendChild(home.row);
    el.appendChild(away.row);
    el.appendChild(events);
    insertSorted(el, id);
    var c = { id: id, el: el, badge: badge, progress: progress, ribbon: ribbon, home: home, away: away, events: events,
      round: -1, tick: -1, phase: null, seen: null };
    c.sub = herald.subscribe('scores:' + id, onMatch);
    cards[id] = c;
    return c;
  }

  function teamRow(side) {
    var row = make('div', 'team ' + side);
    var swatch = make('span', 'swatch'), name = make('span', 'name'), books = make('span', 'bookings');
    var score = make('span', 'score');
    row.appendChild(swatch);
    row.appendChild(name);
    row.appendChild(books);
    row.appendChild(score);
    return { row: row, swatch: swatch, name: name, books: books, score: score, value: null, bookings: '' };
  }

  function insertSorted(el, id) {
    var n = matchNumber(id), kids = grid.children;
    for (var i = 0; i < kids.length; i++) {
      if (matchNumber(kids[i].getAttribute('data-match')) > n) { grid.insertBefore(el, kids[i]); return; }
    }
    grid.appendChild(el);
  }
  function matchNumber(id) { var m = /(\d+)$/.exec(id || ''); return m ? parseInt(m[1], 10) : 0; }

  function drop(id) {
    var c = cards[id];
    c.sub.unsubscribe();
    if (c.el.parentNode) { c.el.parentNode.removeChild(c.el); }
    delete cards[id];
  }

  // Applies a state unless it is older than what the card shows. A new round is
  // a new fixture on the same match id: the card starts over.
  function apply(c, s, withEvents) {
    if (s.round < c.round || (s.round === c.round && s.tick < c.tick)) { return; }
    var fresh = s.round !== c.round;
    if (fresh) { c.seen = null; c.events.innerHTML = ''; }
    c.round = s.round;
    c.tick = s.tick;
    c.phase = s.phase;
    c.el.setAttribute('data-phase', s.phase);

    var badge = badgeFor(s);
    if (c.badge.textContent !== badge.text) {
      c.badge.textContent = badge.text;
      c.badge.className = 'badge ' + badge.cls;
      if (!fresh) { restart(c.badge, 'tick'); }
    }
    c.progress.style.width = played(s) + '%';
    var goalBy = null;
    if (team(c.home, s.home, fresh)) { goalBy = s.home; }
    if (team(c.away, s.away, fresh)) { goalBy = s.away; }
    setClass(c.home.row, 'leading', s.home.score > s.away.score);
    setClass(c.away.row, 'leading', s.away.score > s.home.score);
    if (goalBy) {
      c.ribbon.style.background = goalBy.color;
      restart(c.ribbon, 'show');
    }
    if (withEvents && s.events) { renderEvents(c, s); }
    if (!fresh && (goalBy || (withEvents && s.type !== 'minute' && s.type !== 'pre'))) { restart(c.el, 'changed'); }
  }

  // Updates one team row; true when its score went up.
  function team(t, s, fresh) {
    if (t.name.textContent !== s.name) { t.name.textContent = s.name; }
    t.swatch.style.background = s.color;
    var books = s.reds + ':' + s.yellows;
    if (books !== t.bookings) {
      t.bookings = books;
      t.books.innerHTML = '';
      addBookings(t.books, 'red', s.reds);
      addBookings(t.books, 'yellow', s.yellows);
    }
    var scored = !fresh && t.value !== null && s.score > t.value;
    if (t.value !== s.score) {
      t.value = s.score;
      t.score.textContent = String(s.score);
      if (scored) { restart(t.score, 'flash'); }
    }
    return scored;
  }

  function addBookings(el, kind, count) {
    for (var i = 0; i < Math.min(count, 4); i++) {
      var b = make('i', 'booking ' + kind);
      b.title = kind + ' card';
      el.appendChild(b);
    }
  }

  function badgeFor(s) {
    switch (s.phase) {
      case 'PRE': return { text: 'Kick-off in ' + s.kickoff_in + "'", cls: '' };
      case 'HT': return { text: 'Half-time', cls: 'break' };
      case 'FT': return { text: 'Full-time', cls: 'done' };
      default: return { text: s.minute === 0 ? 'Kick-off' : minute(s.minute, s.added), cls: 'live' };
    }
  }

  // Share of the 90 minutes played, for the bar along the top of the card.
  function played(s) {
    if (s.phase === 'PRE') { return 0; }
    if (s.phase === 'FT') { return 100; }
    return Math.min(100, Math.round((s.minute / 90) * 100));
  }

  function minute(m, added) { return added > 0 ? m + '+' + added + "'" : m + "'"; }

  // ---- recent events, newest first ----

  var SHOWN = 5;

  function renderEvents(c, s) {
    var first = c.seen === null, seen = {}, list = s.events, i;
    c.events.innerHTML = '';
    for (i = 0; i < list.length && i < SHOWN; i++) {
      var e = list[i], key = e.type + '/' + e.minute + '/' + e.added + '/' + (e.player || '');
      var li = eventItem(e, s);
      if (!first && !c.seen[key]) { li.className += ' new'; }
      seen[key] = true;
      c.events.appendChild(li);
    }
    for (i = SHOWN; i < list.length; i++) {
      seen[list[i].type + '/' + list[i].minute + '/' + list[i].added + '/' + (list[i].player || '')] = true;
    }
    c.seen = seen;
  }

  function eventItem(e, s) {
    var li = make('li', e.type === 'goal' || e.type === 'yellow' || e.type === 'red' ? e.type : 'whistle');
    var min = make('span', 'min'), icon = make('span', 'icon'), who = make('span', 'who'), side = make('span', 'side');
    var sideShort = e.team ? s[e.team].short : '';
    var score = e.score ? e.score[0] + '–' + e.score[1] : '';
    switch (e.type) {
      case 'goal':
        min.textContent = minute(e.minute, e.added);
        icon.className = 'icon goal';
        icon.innerHTML = BALL;
        who.appendChild(bold(e.player));
        if (e.detail) { who.appendChild(detail(e.detail === 'penalty' ? 'pen.' : e.detail === 'own goal' ? 'o.g.' : e.detail)); }
        side.textContent = sideShort + ' ' + score;
        break;
      case 'yellow':
      case 'red':
        min.textContent = minute(e.minute, e.added);
        icon.className = 'icon ' + e.type;
        who.appendChild(bold(e.player));
        if (e.detail) { who.appendChild(detail(e.detail)); }
        side.textContent = sideShort;
        break;
      default:
        icon.className = 'icon whistle';
        icon.innerHTML = WHISTLE;
        who.textContent = WHISTLES[e.type] || e.type;
        if (e.type === 'halftime' || e.type === 'fulltime') {
          min.textContent = minute(e.minute, e.added);
          side.textContent = score;
        }
    }
    li.appendChild(min);
    li.appendChild(icon);
    li.appendChild(who);
    li.appendChild(side);
    return li;
  }

  var WHISTLES = { kickoff: 'Kick-off', halftime: 'Half-time', second_half: 'Second half under way', fulltime: 'Full-time' };
  var BALL = '<svg viewBox="0 0 14 14" aria-label="goal"><circle cx="7" cy="7" r="6.2" fill="#fff" stroke="#111827" stroke-width="1.2"/>' +
    '<path d="M7 4.5l2.38 1.73-.91 2.8H5.53l-.91-2.8z" fill="#111827"/>' +
    '<path d="M7 4.5V1.2M9.38 6.23l3.2-1.05M8.47 9.02l1.95 2.7M5.53 9.02l-1.95 2.7M4.62 6.23l-3.2-1.05" stroke="#111827" stroke-width="1"/></svg>';
  var WHISTLE = '<svg viewBox="0 0 14 14" aria-hidden="true"><circle cx="7" cy="7" r="5.5" fill="none" stroke="#9ca3af" stroke-width="1.3"/>' +
    '<path d="M7 3.8V7l2.2 1.4" fill="none" stroke="#9ca3af" stroke-width="1.3" stroke-linecap="round"/></svg>';

  // ---- small DOM helpers ----

  function make(tag, cls) { var el = document.createElement(tag); if (cls) { el.className = cls; } return el; }
  function bold(text) { var b = document.createElement('b'); b.textContent = text; return b; }
  function detail(text) { var d = make('span', 'detail'); d.textContent = ' ' + text; return d; }
  function hasClass(el, cls) { return (' ' + el.className + ' ').indexOf(' ' + cls + ' ') >= 0; }
  function setClass(el, cls, on) {
    var without = (' ' + el.className + ' ').replace(' ' + cls + ' ', ' ').replace(/^\s+|\s+$/g, '');
    el.className = on ? without + ' ' + cls : without;
  }
  // Plays a CSS animation again even if its class is already there.
  function restart(el, cls) {
    setClass(el, cls, false);
    void el.offsetWidth;
    setClass(el, cls, true);
  }

  function readQuery(search) {
    var out = {}, parts = search.replace(/^\?/, '').split('&');
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].split('=');
      if (kv[0]) { out[decodeURIComponent(kv[0])] = decodeURIComponent((kv[1] || '').replace(/\+/g, ' ')); }
    }
    return out;
  }
}());
