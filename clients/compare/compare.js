/*
 * Transports side by side: three Herald clients on one channel, each held to one
 * transport. Each client gets its own WebSocket, XMLHttpRequest and fetch stand-ins (the
 * client's `env` option) that count the bytes the page can see before handing
 * them to the client, so the panels can show bytes per message.
 *
 * Query parameters: server=<base URL> (default: this page's origin),
 * channel=<name> (default compare:demo).
 */
(function () {
  'use strict';

  var TRANSPORTS = [
    { key: 'websocket', label: 'WebSocket', color: '#2563eb', soft: 'rgba(37, 99, 235, 0.25)' },
    { key: 'sse', label: 'Server-Sent Events', color: '#16a34a', soft: 'rgba(22, 163, 74, 0.25)' },
    { key: 'longpoll', label: 'Long-polling', color: '#ea580c', soft: 'rgba(234, 88, 12, 0.25)' }
  ];
  var LATENCY_WINDOW = 1000;   // messages behind p50/p99
  var BYTES_WINDOW = 200;      // messages behind bytes per message
  var CHART_POINTS = 300;
  var MAX_BODY = 512 * 1024;   // split bursts into requests below herald's default --max-body

  var params = readQuery(window.location.search);
  var base = params.server || (window.location.protocol + '//' + window.location.host);
  var channel = params.channel || 'compare:demo';
  var burstSeq = 0;
  var lastBurst = null;        // {id, size, at}
  var session = Math.random().toString(36).substring(2, 8);
  var $ = function (id) { return document.getElementById(id); };

  $('channel').textContent = channel;

  var panels = [];

  // ---- one panel per transport ----

  function Panel(t) {
    var self = this;
    this.t = t;
    this.wire = { bytes: 0, prev: 0, requests: 0 };
    this.reconnects = 0;
    this.connected = false;
    this.reset();
    this.build();
    this.client = new Herald(base, {
      transports: [t.key],
      failbackInterval: 0,
      storageKey: 'herald.compare.' + t.key,
      env: countingEnv(this.wire)
    });
    this.client.on('state', function (s) {
      if (s === 'connected' && self.connected === false && self.everConnected) { self.reconnects++; }
      if (s === 'connected') { self.everConnected = true; }
      self.connected = s === 'connected';
      self.el.setAttribute('data-state', s);
      self.stateEl.textContent = s;
      self.schedule();
    });
    this.client.subscribe(channel, function (msg) { self.onMessage(msg); });
  }

  Panel.prototype.reset = function () {
    this.count = 0;
    this.dups = 0;
    this.lat = [];
    // Where reads begin: {bytes, msgs} before each read that carried messages. A
    // read may carry many messages (a long-poll answer, a burst on a stream), so
    // bytes are shared out per read, not per message.
    this.bounds = [];
    this.lastMark = null;
    this.bursts = {};
    this.reconnects = 0;
    this.schedule();
  };

  Panel.prototype.build = function () {
    var el = make('section', 'panel');
    el.setAttribute('data-transport', this.t.key);
    el.setAttribute('data-state', 'connecting');
    el.style.setProperty('--accent', this.t.color);
    el.style.setProperty('--accent-soft', this.t.soft);
    el.innerHTML =
      '<div class="panel-head"><h2></h2><span class="state">connecting</span></div>' +
      '<div class="big"><span class="received">0</span><span class="unit">messages received</span></div>' +
      '<div class="burst-line"></div>' +
      '<div class="stats">' +
      stat('p50', 'latency p50') + stat('p99', 'latency p99') +
      stat('bytes', 'bytes / message') + stat('reconnects', 'reconnects') +
      stat('requests', 'HTTP requests') + stat('dups', 'duplicates') +
      '</div>' +
      '<canvas class="chart"></canvas>' +
      '<div class="chart-caption"><span>latency of the last ' + CHART_POINTS + ' messages</span><span class="chart-max"></span></div>';
    el.querySelector('h2').textContent = this.t.label;
    this.el = el;
    this.stateEl = el.querySelector('.state');
    this.receivedEl = el.querySelector('.received');
    this.burstEl = el.querySelector('.burst-line');
    this.canvas = el.querySelector('canvas');
    this.maxEl = el.querySelector('.chart-max');
    this.v = {};
    var vs = el.querySelectorAll('.stat');
    for (var k = 0; k < vs.length; k++) { this.v[vs[k].getAttribute('data-stat')] = vs[k].querySelector('.v'); }
    $('panels').appendChild(el);
  };

  function stat(key, label) {
    return '<div class="stat" data-stat="' + key + '"><span class="k">' + label + '</span><span class="v">–</span></div>';
  }

  Panel.prototype.onMessage = function (msg) {
    var now = Date.now(), d = msg.data;
    this.count++;
    if (typeof msg.ts === 'number') { push(this.lat, now - msg.ts, LATENCY_WINDOW); }
    if (this.lastMark === null) {
      this.bounds.push({ bytes: this.wire.prev, msgs: this.count - 1 });   // connecting is not a message's cost
    } else if (this.wire.bytes !== this.lastMark) {
      this.bounds.push({ bytes: this.lastMark, msgs: this.count - 1 });    // heartbeats and empty polls are
    }
    this.lastMark = this.wire.bytes;
    while (this.bounds.length > 1 && this.count - this.bounds[1].msgs >= BYTES_WINDOW) { this.bounds.shift(); }
    if (d && d.burst) {
      var b = this.bursts[d.burst] || (this.bursts[d.burst] = { received: 0, seen: {}, last: 0 });
      if (b.seen[d.n]) { this.dups++; } else { b.seen[d.n] = true; b.received++; }
      b.last = now;
    }
    this.schedule();
  };

  // Renders at most every 100 ms: a burst of 1,000 messages is one repaint, not 1,000.
  Panel.prototype.schedule = function () {
    var self = this;
    if (this.timer || !this.el) { return; }
    this.timer = setTimeout(function () { self.timer = null; self.render(); }, 100);
  };

  Panel.prototype.render = function () {
    var before = this.receivedEl.textContent, now = String(this.count);
    this.receivedEl.textContent = now;
    if (before !== now) { restart(this.el, 'got'); }
    var sorted = this.lat.slice().sort(function (a, b) { return a - b; });
    this.v.p50.innerHTML = sorted.length ? quantile(sorted, 0.5) + ' <small>ms</small>' : '–';
    this.v.p99.innerHTML = sorted.length ? quantile(sorted, 0.99) + ' <small>ms</small>' : '–';
    var b0 = this.bounds[0];
    this.v.bytes.textContent = b0 ? String(Math.round((this.lastMark - b0.bytes) / (this.count - b0.msgs))) : '–';
    this.v.reconnects.textContent = String(this.reconnects);
    this.v.requests.textContent = String(this.wire.requests);
    this.v.dups.textContent = String(this.dups);
    this.renderBurst();
    this.draw(sorted);
  };

  Panel.prototype.renderBurst = function () {
    var el = this.burstEl;
    if (!lastBurst) { el.textContent = ''; return; }
    var b = this.bursts[lastBurst.id] || { received: 0, last: 0 };
    var done = b.received >= lastBurst.size;
    el.setAttribute('data-received', String(b.received));
    el.setAttribute('data-expected', String(lastBurst.size));
    el.className = 'burst-line ' + (done ? 'complete' : 'partial');
    el.textContent = 'Burst ' + lastBurst.seq + ': ' + b.received + ' / ' + lastBurst.size +
      (done ? ' in ' + (b.last - lastBurst.at) + ' ms' : '');
  };

  // Latency of each of the last messages as a thin bar; the dashed line is p50.
  Panel.prototype.draw = function (sorted) {
    var c = this.canvas, dpr = window.devicePixelRatio || 1;
    var w = c.clientWidth, h = c.clientHeight;
    if (!w || !h) { return; }
    if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
    var g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    var pts = this.lat.slice(-CHART_POINTS);
    var top = niceCeil(Math.max(4, sorted.length ? quantile(sorted, 0.99) * 1.25 : 4));
    this.maxEl.textContent = 'top ' + top + ' ms';
    g.strokeStyle = '#eef0f3';
    g.lineWidth = 1;
    for (var k = 0; k <= 2; k++) {
      var gy = Math.round(h - 1 - (h - 2) * k / 2) + 0.5;
      g.beginPath(); g.moveTo(0, gy); g.lineTo(w, gy); g.stroke();
    }
    var step = w / CHART_POINTS;
    g.fillStyle = this.t.color;
    for (var i = 0; i < pts.length; i++) {
      var v = Math.min(pts[i], top), bh = Math.max(1.5, (h - 2) * v / top);
      g.fillRect(w - (pts.length - i) * step, h - 1 - bh, Math.max(1, step - 0.5), bh);
    }
    if (sorted.length) {
      var y = h - 1 - (h - 2) * Math.min(quantile(sorted, 0.5), top) / top;
      g.strokeStyle = '#111827';
      g.setLineDash([4, 3]);
      g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
      g.setLineDash([]);
    }
  };

  // ---- counting the wire ----

  // Stand-ins handed to Herald through `env`. They return the browser's own
  // objects with an extra listener added first, so counting runs before the
  // client's handlers see the data.
  function countingEnv(wire) {
    function CountingWebSocket(url, protocol) {
      var ws = protocol ? new window.WebSocket(url, protocol) : new window.WebSocket(url);
      wire.requests++;
      ws.addEventListener('message', function (ev) {
        wire.prev = wire.bytes;
        if (typeof ev.data === 'string') { wire.bytes += frameBytes(utf8Length(ev.data)); }
      });
      return ws;
    }
    function CountingXHR() {
      var xhr = new window.XMLHttpRequest(), seen = 0, headers = false;
      var open = xhr.open;
      xhr.open = function () { wire.requests++; return open.apply(xhr, arguments); };
      // wire.prev: the count before the last read that added bytes (one response
      // may be read several times, by readystatechange and by progress).
      function read() {
        var before = wire.bytes;
        count();
        if (wire.bytes !== before) { wire.prev = before; }
      }
      function count() {
        if (xhr.readyState >= 2 && !headers) {
          headers = true;
          // Status line, headers as the browser reports them, blank line.
          wire.bytes += ('HTTP/1.1 ' + xhr.status + ' ' + xhr.statusText + '\r\n').length +
            (xhr.getAllResponseHeaders() || '').length + 2;
        }
        if (xhr.readyState < 3) { return; }
        var text = '';
        try { text = xhr.responseText || ''; } catch (e) { return; }
        if (text.length > seen) { wire.bytes += utf8Length(text.substring(seen)); seen = text.length; }
      }
      xhr.addEventListener('readystatechange', read);
      xhr.addEventListener('progress', read);
      return xhr;
    }
    // fetch, which the client reads SSE streams with where bodies stream: the body
    // is handed on through a stream that counts each chunk's bytes as it passes.
    function countingFetch(url, init) {
      wire.requests++;
      return window.fetch(url, init).then(function (res) {
        var head = ('HTTP/1.1 ' + res.status + ' ' + res.statusText + '\r\n').length + 2;
        res.headers.forEach(function (value, name) { head += name.length + value.length + 4; });
        wire.bytes += head;
        if (!res.body) { return res; }
        var reader = res.body.getReader();
        var counted = new window.ReadableStream({
          pull: function (out) {
            return reader.read().then(function (chunk) {
              if (chunk.done) { out.close(); return; }
              wire.prev = wire.bytes;
              wire.bytes += chunk.value.length;
              out.enqueue(chunk.value);
            });
          },
          cancel: function (why) { return reader.cancel(why); }
        });
        return new window.Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
      });
    }
    return { WebSocket: window.WebSocket ? CountingWebSocket : null, XMLHttpRequest: CountingXHR,
      fetch: window.fetch ? countingFetch : null };
  }

  function frameBytes(n) { return n + (n < 126 ? 2 : n < 65536 ? 4 : 10); }

  function utf8Length(s) {
    var n = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c < 0x80) { n += 1; } else if (c < 0x800) { n += 2; } else if (c >= 0xD800 && c <= 0xDBFF) { n += 4; i++; } else { n += 3; }
    }
    return n;
  }

  // ---- publishing ----

  function publishBurst() {
    var size = Math.max(1, Math.min(1000, parseInt($('burst-size').value, 10) || 100));
    var pad = repeat('x', parseInt($('payload').value, 10) || 0);
    var id = session + '-' + (++burstSeq), items = [];
    for (var n = 0; n < size; n++) { items.push({ channel: channel, data: { burst: id, n: n, of: size, pad: pad } }); }
    lastBurst = { id: id, seq: burstSeq, size: size, at: Date.now() };
    for (var j = 0; j < panels.length; j++) { panels[j].schedule(); }
    status('Publishing burst ' + burstSeq + '…');
    var started = Date.now();
    postAll(split(items), function (err) {
      if (err) { status(err, true); return; }
      status('Burst ' + lastBurst.seq + ': ' + size + ' messages published in ' + (Date.now() - started) + ' ms');
    });
    return id;
  }

  var streamTimer = null, streamSeq = 0;
  function setStream() {
    var rate = parseInt($('stream').value, 10) || 0;
    if (streamTimer) { clearInterval(streamTimer); streamTimer = null; }
    if (!rate) { return; }
    var every = rate >= 10 ? 100 : 1000 / rate, per = Math.max(1, Math.round(rate * every / 1000));
    streamTimer = setInterval(function () {
      var pad = repeat('x', parseInt($('payload').value, 10) || 0), items = [];
      for (var k = 0; k < per; k++) { items.push({ channel: channel, data: { stream: ++streamSeq, pad: pad } }); }
      postAll([items], function (err) { if (err) { status(err, true); } });
    }, every);
  }

  // Requests of at most 1000 messages and MAX_BODY bytes, sent one after another.
  function split(items) {
    var out = [], cur = [], size = 0;
    for (var i = 0; i < items.length; i++) {
      var s = JSON.stringify(items[i]).length + 1;
      if (cur.length && (cur.length >= 1000 || size + s > MAX_BODY)) { out.push(cur); cur = []; size = 0; }
      cur.push(items[i]);
      size += s;
    }
    if (cur.length) { out.push(cur); }
    return out;
  }

  function postAll(batches, done) {
    if (!batches.length) { done(null); return; }
    var xhr = new window.XMLHttpRequest();
    xhr.open('POST', base + '/api/publish', true);
    xhr.setRequestHeader('Content-Type', 'application/json');
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      if (xhr.status !== 200) {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        done('Publish failed: ' + (body && body.error ? body.error.message : 'HTTP ' + xhr.status));
        return;
      }
      postAll(batches.slice(1), done);
    };
    xhr.send(JSON.stringify(batches[0]));
  }

  function status(text, error) {
    var el = $('publish-status');
    el.textContent = text;
    el.className = 'publish-status' + (error ? ' error' : '');
  }

  // ---- start, once everything above is defined ----

  for (var i = 0; i < TRANSPORTS.length; i++) { panels.push(new Panel(TRANSPORTS[i])); }
  $('burst').onclick = publishBurst;
  $('reset').onclick = function () { for (var j = 0; j < panels.length; j++) { panels[j].reset(); } };
  $('stream').onchange = setStream;
  window.comparePage = { panels: panels, publishBurst: publishBurst, channel: channel };

  // ---- helpers ----

  function push(list, v, max) { list.push(v); if (list.length > max) { list.shift(); } }
  function quantile(sorted, q) { return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]; }
  function niceCeil(v) {
    var p = Math.pow(10, Math.floor(Math.log(v) / Math.LN10)), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function repeat(s, n) { var out = ''; while (n-- > 0) { out += s; } return out; }
  function make(tag, cls) { var el = document.createElement(tag); el.className = cls; return el; }
  function restart(el, cls) {
    el.className = el.className.replace(' ' + cls, '');
    void el.offsetWidth;
    el.className += ' ' + cls;
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
