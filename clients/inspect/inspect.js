// The inspector page: one EventSource on /api/inspect/stream, one `stats` event a
// second (see src/inspect_stats.cpp for its fields), drawn as cards, a rate chart, the
// busiest channels, the broker's state and slow-consumer events. No dependencies.
(function () {
  'use strict';

  var HISTORY = 60;  // seconds of rates kept for the chart
  var params = new URLSearchParams(location.search);
  var key = params.get('key') || '';
  var token = params.get('token') || '';
  var rates = [];    // {publish, deliver} per snapshot, oldest first
  var snapshots = 0;
  var source = null;

  function $(id) { return document.getElementById(id); }
  function text(id, value) { $(id).textContent = value; }
  function count(n) { return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'); }
  function rate(r) {
    if (r === null || r === undefined) { return '–'; }
    return r < 10 ? (Math.round(r * 10) / 10).toLocaleString('en-US') : Math.round(r).toLocaleString('en-US');
  }
  function clock(ms) { return new Date(ms).toLocaleTimeString('en-GB'); }

  function feedState(state, label) {
    $('feed').className = 'feed ' + state;
    text('feed-state', label);
  }

  function streamUrl() {
    var q = [];
    if (key) { q.push('key=' + encodeURIComponent(key)); }
    if (token) { q.push('token=' + encodeURIComponent(token)); }
    return '/api/inspect/stream' + (q.length ? '?' + q.join('&') : '');
  }

  function connect() {
    feedState('connecting', 'connecting');
    source = new EventSource(streamUrl());
    source.addEventListener('stats', function (e) { render(JSON.parse(e.data)); });
    source.onopen = function () { feedState('live', 'live'); };
    source.onerror = function () {
      if (source.readyState !== EventSource.CLOSED) {  // EventSource reconnects by itself
        feedState('connecting', 'reconnecting');
        return;
      }
      // Refused (not a stream): ask again with fetch to read the answer's reason.
      source = null;
      var abort = new AbortController();
      fetch(streamUrl(), { signal: abort.signal }).then(function (res) {
        if (res.status === 200) {  // it is a stream again: the server was away
          abort.abort();
          setTimeout(connect, 1000);
          return;
        }
        return res.json().then(function (body) { refused(res.status, body); });
      }).catch(function () {
        feedState('down', 'server unreachable');
        setTimeout(connect, 2000);
      });
    };
  }

  function refused(status, body) {
    feedState('down', status === 401 || status === 403 ? 'locked' : 'refused (' + status + ')');
    $('dashboard').hidden = true;
    $('locked').hidden = false;
    var message = body && body.error ? body.error.message : 'the server answered ' + status;
    var why = key ? 'The key was not accepted: ' : token ? 'The token was not accepted: ' : 'The server runs with a publish key: ';
    text('locked-why', why + message.replace(/\.$/, '') + '.');
  }

  function render(s) {
    snapshots += 1;
    $('locked').hidden = true;
    $('dashboard').hidden = false;
    feedState(s.draining ? 'connecting' : 'live', s.draining ? 'draining' : 'live');
    text('node', s.node);
    var updated = $('updated');
    updated.textContent = 'updated ' + clock(s.at);
    updated.setAttribute('data-seq', String(snapshots));

    ['websocket', 'sse', 'longpoll'].forEach(function (t) {
      text('conn-' + t, count(s.connections[t]));
      text('rate-' + t, rate(s.rates.deliver[t]) + ' deliveries/s');
    });
    text('rate-publish', rate(s.rates.publish));
    text('total-published', count(s.totals.published) + ' in all');
    text('rate-deliver', rate(s.rates.deliver_total));
    var delivered = 0;
    Object.keys(s.totals.delivered).forEach(function (t) { delivered += s.totals.delivered[t]; });
    text('total-delivered', count(delivered) + ' in all');

    if (s.rates.publish !== null) {
      rates.push({ publish: s.rates.publish, deliver: s.rates.deliver_total });
      if (rates.length > HISTORY) { rates.shift(); }
    }
    drawChart();
    renderChannels(s.channels);
    renderBroker(s.broker, s.history);
    renderSlow(s.slow_consumers);
  }

  function renderChannels(c) {
    text('channels-summary', count(c.count) + ' with subscribers · ' + count(c.subscriptions) + ' subscriptions');
    var body = $('channels');
    body.textContent = '';
    var most = c.top.length ? c.top[0].subscribers : 1;
    c.top.forEach(function (row) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-channel', row.channel);
      var name = document.createElement('td');
      name.className = 'channel';
      name.textContent = row.channel;
      var subs = document.createElement('td');
      subs.className = 'num subs';
      subs.textContent = count(row.subscribers);
      var barCell = document.createElement('td');
      barCell.className = 'bar-col';
      var bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = Math.max(2, Math.round(100 * row.subscribers / most)) + '%';
      barCell.appendChild(bar);
      tr.appendChild(name);
      tr.appendChild(subs);
      tr.appendChild(barCell);
      body.appendChild(tr);
    });
    $('channels-empty').hidden = c.top.length > 0;
  }

  function renderBroker(b, history) {
    text('broker-kind', b.kind === 'memory' ? 'embedded (in-process)' : 'RabbitMQ');
    var state = $('broker-state');
    state.textContent = b.state;
    state.className = 'state ' + (b.state === 'up' ? 'up' : b.state === 'connecting' ? 'connecting' : 'down');
    text('broker-detail', b.detail || '–');
    text('broker-lag', count(b.lag) + ' messages');
    text('broker-pending', count(b.pending_confirms));
    text('broker-reconnects', count(b.reconnects));
    text('history', count(history.messages) + ' messages in ' + count(history.channels) + ' channels');
  }

  var EVENT_TEXT = {  // [one, several]
    slow_consumer_disconnect: ['slow subscriber disconnected', 'slow subscribers disconnected'],
    conflation: ['message conflated for slow subscribers', 'messages conflated for slow subscribers'],
    loop_overflow: ['time an event loop fell behind', 'times an event loop fell behind'],
  };

  function renderSlow(slow) {
    text('slow-disconnects', count(slow.disconnects) + (slow.disconnects_per_s ? ' (' + rate(slow.disconnects_per_s) + '/s)' : ''));
    text('slow-conflated', count(slow.conflated));
    text('slow-overflows', count(slow.loop_overflows));
    var list = $('events');
    list.textContent = '';
    slow.events.forEach(function (e) {
      var li = document.createElement('li');
      li.className = e.kind;
      var at = document.createElement('time');
      at.textContent = clock(e.at);
      li.appendChild(at);
      var words = EVENT_TEXT[e.kind] ? EVENT_TEXT[e.kind][e.count === 1 ? 0 : 1] : e.kind;
      li.appendChild(document.createTextNode(' ' + count(e.count) + ' ' + words));
      list.appendChild(li);
    });
    $('events-empty').hidden = slow.events.length > 0;
  }

  function drawChart() {
    var svg = $('chart');
    var W = 600, H = 120, pad = 6;
    var top = 1;
    rates.forEach(function (r) { top = Math.max(top, r.publish, r.deliver); });
    function line(field) {
      return rates.map(function (r, i) {
        var x = W - (rates.length - 1 - i) * (W / (HISTORY - 1));
        var y = H - pad - (H - 2 * pad) * (r[field] / top);
        return x.toFixed(1) + ',' + y.toFixed(1);
      }).join(' ');
    }
    text('chart-scale', 'top of chart: ' + rate(top) + '/s');
    svg.innerHTML =
      '<line class="axis" x1="0" y1="' + (H - pad) + '" x2="' + W + '" y2="' + (H - pad) + '"/>' +
      '<polyline class="del" points="' + line('deliver') + '"/>' +
      '<polyline class="pub" points="' + line('publish') + '"/>';
  }

  $('key-form').addEventListener('submit', function (e) {
    e.preventDefault();
    params.set('key', $('key-input').value);
    location.search = params.toString();
  });

  connect();
})();
