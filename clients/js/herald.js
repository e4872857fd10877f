/*
 * Herald client: one connection per Herald instance carries every subscribed
 * channel, over WebSocket, SSE (read through fetch or XHR streaming so heartbeat
 * comments are visible) or long-poll (XHR, or JSONP without CORS XHR).
 *
 * This file ships unbuilt to old browsers, so it is ES5 with no reserved words
 * as property names and no ES5 library calls IE8 lacks; test/es5.test.js
 * checks that. A <script> tag gets the global `Herald`, CommonJS gets
 * module.exports, and herald.mjs re-exports it for ES modules.
 *
 * One file rather than a core plus one file per transport: a plain <script>
 * user must be able to load the whole client with a single tag and no build.
 */
(function (root, factory) {
  var Herald = factory(root);
  if (typeof module === 'object' && module && module.exports) {
    module.exports = Herald;
  } else {
    root.Herald = Herald;
  }
}(typeof self !== 'undefined' ? self : (typeof globalThis !== 'undefined' ? globalThis : this), function (root) {
  'use strict';

  function noop() {}
  function has(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }
  function isArray(v) { return Object.prototype.toString.call(v) === '[object Array]'; }
  function keys(o) { var r = [], k; for (k in o) { if (has(o, k)) { r.push(k); } } return r; }
  function indexOf(a, v) { for (var i = 0; i < a.length; i++) { if (a[i] === v) { return i; } } return -1; }
  function parseJSON(s) { try { return JSON.parse(s); } catch (e) { return null; } }
  function enc(s) { return encodeURIComponent(s); }

  // ---- cursors: "<epoch>-<seq>", seq a decimal of any length ----

  function splitCursor(c) {
    var i = c.lastIndexOf('-');
    return i < 0 ? { epoch: '', seq: c } : { epoch: c.substring(0, i), seq: c.substring(i + 1) };
  }
  function epochOf(c) { return c == null ? null : splitCursor(String(c)).epoch; }
  function compareSeq(a, b) {
    // Compared as digit strings so sequences past 2^53 still order correctly.
    a = a.replace(/^0+(?=.)/, ''); b = b.replace(/^0+(?=.)/, '');
    if (a.length !== b.length) { return a.length < b.length ? -1 : 1; }
    return a < b ? -1 : (a > b ? 1 : 0);
  }
  // True when cursor a should be delivered after b: a later seq in the same
  // log, or a different epoch (a new log; recovered/gap tell what was lost).
  function isNewer(a, b) {
    if (b == null) { return true; }
    if (a == null) { return false; }
    var pa = splitCursor(String(a)), pb = splitCursor(String(b));
    return pa.epoch !== pb.epoch || compareSeq(pa.seq, pb.seq) > 0;
  }
  function laterCursor(a, b) { return (b != null && isNewer(b, a)) ? b : a; }

  // ---- backoff ----

  // Exponential backoff; 'full' jitter draws uniformly from [0, cap).
  function backoffDelay(attempt, cfg, random) {
    var cap = cfg.initial * Math.pow(2, attempt);
    if (!(cap < cfg.max)) { cap = cfg.max; }
    return cfg.jitter === 'none' ? cap : Math.floor(random() * cap);
  }

  // ---- environment ----

  var defaultTimers = {
    setTimeout: function (fn, ms) { return root.setTimeout(fn, ms); },
    clearTimeout: function (id) { root.clearTimeout(id); },
    now: function () { return new Date().getTime(); }
  };

  function defaultEnv() {
    var env = { WebSocket: root.WebSocket, XMLHttpRequest: root.XMLHttpRequest,
      document: root.document, window: root.document ? root : null, sessionStorage: null,
      // Called as env.fetch(...), window's fetch would throw "Illegal invocation".
      fetch: root.fetch ? function (url, init) { return root.fetch(url, init); } : null,
      ReadableStream: root.ReadableStream, TextDecoder: root.TextDecoder, AbortController: root.AbortController };
    try { env.sessionStorage = root.sessionStorage || null; } catch (e) { /* blocked by privacy settings */ }
    return env;
  }

  // fetch with a readable body, streaming text decoding and a way to abort: the
  // SSE transport reads its stream through it where all three exist.
  function fetchStreams(env) {
    return !!(env.fetch && env.ReadableStream && env.TextDecoder && env.AbortController);
  }

  function corsXhr(env) {
    if (!env.XMLHttpRequest) { return false; }
    try { return 'withCredentials' in new env.XMLHttpRequest(); } catch (e) { return false; }
  }

  function tokenParam(token) { return token ? 'token=' + enc(token) : ''; }
  function joinQuery(parts) {
    var out = [];
    for (var i = 0; i < parts.length; i++) { if (parts[i]) { out.push(parts[i]); } }
    return out.length ? '?' + out.join('&') : '';
  }
  function channelParams(channels) {
    var out = [];
    for (var i = 0; i < channels.length; i++) { out.push('channel=' + enc(channels[i])); }
    return out.join('&');
  }

  // ---- the client ----

  var DEFAULTS = {
    transports: ['websocket', 'sse', 'longpoll'],
    token: null,
    probeTimeout: 5000,
    backoff: { initial: 500, max: 30000, jitter: 'full' },
    failbackInterval: 60000,
    idleTimeout: 45000,
    pingInterval: 20000,
    pollTimeout: 25,
    jsonp: false,
    wsProtocol: 'herald.v1',
    maxStreamBytes: 4194304,
    storageKey: 'herald.transport'
  };

  function Herald(baseUrl, options) {
    if (!(this instanceof Herald)) { return new Herald(baseUrl, options); }
    var o = options || {}, k, cfg = {}, env = defaultEnv();
    for (k in DEFAULTS) { if (has(DEFAULTS, k)) { cfg[k] = o[k] !== undefined ? o[k] : DEFAULTS[k]; } }
    cfg.backoff = {};
    for (k in DEFAULTS.backoff) {
      if (has(DEFAULTS.backoff, k)) { cfg.backoff[k] = (o.backoff && o.backoff[k] !== undefined) ? o.backoff[k] : DEFAULTS.backoff[k]; }
    }
    if (o.env) { for (k in o.env) { if (has(o.env, k)) { env[k] = o.env[k]; } } }
    this.url = String(baseUrl || '').replace(/\/+$/, '');
    this._cfg = cfg;
    this._env = env;
    this._timers = o.timers || defaultTimers;
    this._random = o.random || Math.random;
    this._factories = o.transportFactories || TRANSPORTS;
    this._order = [];
    for (var i = 0; i < cfg.transports.length; i++) {
      var f = this._factories[cfg.transports[i]];
      if (f && (!f.isSupported || f.isSupported(env, cfg))) { this._order.push(cfg.transports[i]); }
    }
    this._channels = {};
    this._events = {};
    this._tm = {};
    this._active = null;      // proven handle
    this._cand = null;        // handle being probed (first connect, failback or replace)
    this._state = 'disconnected';
    this._transport = null;
    this._closed = false;
    this._attempt = 0;
    this._failbackFails = 0;
    this._seq = 0;
    this._round = [];
    this._roundPos = 0;
    this._lastEpoch = null;
    this._storeKey = cfg.storageKey + ':' + this.url;
    var remembered = null;
    try { remembered = env.sessionStorage && env.sessionStorage.getItem(this._storeKey); } catch (e) { /* unavailable */ }
    this._preferred = Math.max(0, indexOf(this._order, remembered));
    // Back online: skip the rest of the backoff wait.
    var self = this, win = env.window;
    if (win && win.addEventListener) {
      this._onOnline = function () {
        if (self._tm.retry != null && !self._active && !self._cand) { self._cancel('retry'); self._connect(); }
      };
      win.addEventListener('online', this._onOnline, false);
    }
  }

  var P = Herald.prototype;

  // ---- public API ----

  P.on = function (event, fn) {
    (this._events[event] || (this._events[event] = [])).push(fn);
    return this;
  };
  P.off = function (event, fn) {
    var l = this._events[event], i = l ? indexOf(l, fn) : -1;
    if (i >= 0) { l.splice(i, 1); }
    return this;
  };
  P.state = function () { return this._state; };
  P.transport = function () { return this._active ? this._active.name : null; };
  P.cursor = function (channel) { var c = this._channels[channel]; return c ? c.cursor : null; };

  P.subscribe = function (channel, fn, opts) {
    if (this._closed) { throw new Error('Herald: subscribe() after close(); create a new Herald'); }
    if (typeof channel !== 'string' || !channel) { throw new Error('Herald: channel must be a non-empty string'); }
    if (typeof fn !== 'function') { throw new Error('Herald: subscribe() needs a callback'); }
    var self = this, c = this._channels[channel];
    var sub = { fn: fn, on: true };
    if (c) {
      c.subs.push(sub);
    } else {
      c = this._channels[channel] = { name: channel, cursor: (opts && opts.since) || null, subs: [sub] };
      this._channelAdded(c);
    }
    return { channel: channel, unsubscribe: function () { self._unsubscribe(channel, sub); } };
  };

  P.close = function () {
    if (this._closed) { return; }
    this._closed = true;
    this._stopAll();
    if (this._onOnline) { this._env.window.removeEventListener('online', this._onOnline, false); }
    this._channels = {};
    this._setState('closed');
  };

  // POST /api/publish; cb(err, {id}) is optional.
  P.publish = function (channel, data, cb) {
    cb = cb || noop;
    var env = this._env, body = JSON.stringify({ channel: channel, data: data });
    var url = this.url + '/api/publish' + joinQuery([tokenParam(this._cfg.token)]);
    function done(status, text) {
      var res = parseJSON(text);
      if (status >= 200 && status < 300 && res) { cb(null, res); return; }
      cb(httpError(status, res));
    }
    if (env.XMLHttpRequest) {
      var xhr = new env.XMLHttpRequest();
      xhr.open('POST', url, true);
      xhr.setRequestHeader('Content-Type', 'application/json');
      xhr.onreadystatechange = function () { if (xhr.readyState === 4) { done(xhr.status, xhr.responseText); } };
      xhr.send(body);
    } else if (env.fetch) {
      env.fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: body }).then(function (r) {
        return r.text().then(function (t) { done(r.status, t); });
      }, function (e) { cb({ code: 'network', message: String(e && e.message || e) }); });
    } else {
      cb({ code: 'unsupported', message: 'no XMLHttpRequest or fetch to publish with' });
    }
  };

  // GET /api/presence?channel=c: who is in a presence channel now, cluster-wide.
  // cb(err, {channel, count, members: [{user, info}]}). Join and leave events are
  // best effort (not replayed after a reconnect), so call this after connecting.
  P.presence = function (channel, cb) {
    this._getJSON('/api/presence' + joinQuery(['channel=' + enc(channel), tokenParam(this._cfg.token)]), cb || noop);
  };

  // GET /api/channels?prefix=p: channels starting with `prefix` and their subscriber
  // counts across the cluster. cb(err, {channels: [{channel, subscribers}], truncated}).
  P.channels = function (prefix, cb) {
    this._getJSON('/api/channels' + joinQuery(['prefix=' + enc(prefix || ''), tokenParam(this._cfg.token)]), cb || noop);
  };

  P._getJSON = function (path, cb) {
    var env = this._env, url = this.url + path;
    function done(status, text) {
      var res = parseJSON(text);
      if (status >= 200 && status < 300 && res) { cb(null, res); return; }
      cb(httpError(status, res));
    }
    if (env.XMLHttpRequest) {
      var xhr = new env.XMLHttpRequest();
      xhr.open('GET', url, true);
      xhr.onreadystatechange = function () { if (xhr.readyState === 4) { done(xhr.status, xhr.responseText); } };
      xhr.send(null);
    } else if (env.fetch) {
      env.fetch(url).then(function (r) {
        return r.text().then(function (t) { done(r.status, t); });
      }, function (e) { cb({ code: 'network', message: String(e && e.message || e) }); });
    } else {
      cb({ code: 'unsupported', message: 'no XMLHttpRequest or fetch to ask with' });
    }
  };

  // ---- events ----

  P._emit = function (event, arg) {
    var l = this._events[event];
    if (!l) { return; }
    l = l.slice();
    for (var i = 0; i < l.length; i++) {
      try { l[i].call(this, arg); } catch (e) { rethrowLater(this, e); }
    }
  };
  // A throwing listener must not break the connection state machine; surface
  // the exception outside it instead.
  function rethrowLater(self, e) { self._timers.setTimeout(function () { throw e; }, 0); }

  P._setState = function (s) {
    if (this._state !== s) { this._state = s; this._emit('state', s); }
  };

  P._later = function (name, ms, fn) {
    var self = this;
    this._cancel(name);
    this._tm[name] = this._timers.setTimeout(function () { self._tm[name] = null; fn.call(self); }, ms);
  };
  P._cancel = function (name) {
    if (this._tm[name] != null) { this._timers.clearTimeout(this._tm[name]); this._tm[name] = null; }
  };

  // ---- channels ----

  P._channelAdded = function (c) {
    var hs = [this._active, this._cand];
    for (var i = 0; i < 2; i++) {
      var h = hs[i];
      if (h && h.t && h.t.subscribe) { h.channels[c.name] = c.cursor; h.t.subscribe(c.name, c.cursor); }
    }
    if (!this._active && !this._cand) {
      // Connect on the next turn so subscriptions made together share the first open.
      if (this._tm.retry == null) { this._later('retry', 0, this._connect); }
    } else {
      this._later('sync', 0, this._sync);
    }
  };

  P._unsubscribe = function (name, sub) {
    var c = this._channels[name];
    if (!sub.on || !c) { return; }
    sub.on = false;
    c.subs.splice(indexOf(c.subs, sub), 1);
    if (c.subs.length) { return; }
    delete this._channels[name];
    var hs = [this._active, this._cand];
    for (var i = 0; i < 2; i++) {
      var h = hs[i];
      if (h && h.t && h.t.unsubscribe && has(h.channels, name)) {
        delete h.channels[name]; delete h.live[name]; delete h.pending[name];
        h.t.unsubscribe(name);
      }
    }
    if (!keys(this._channels).length) {
      this._stopAll();          // nothing to carry: drop the connection until the next subscribe
      this._attempt = 0;
      this._setState('disconnected');
    } else {
      this._later('sync', 0, this._sync);
    }
  };

  // Transports that cannot change channels on the fly (SSE, long-poll) are
  // replaced by a fresh instance with the new set; dedupe makes the overlap safe.
  P._sync = function () {
    var a = this._active;
    if (!a || this._cand) { return; }
    if (a.recycle || (!a.t.subscribe && !sameKeys(a.channels, this._channels))) { this._open(a.index, 'replace'); }
  };
  function sameKeys(a, b) {
    var k;
    for (k in a) { if (has(a, k) && !has(b, k)) { return false; } }
    for (k in b) { if (has(b, k) && !has(a, k)) { return false; } }
    return true;
  }

  // ---- connecting, probing, switching ----

  P._connect = function () {
    if (this._closed || this._active || this._cand || !keys(this._channels).length) { return; }
    if (!this._order.length) {
      this._emit('error', { code: 'unsupported', message: 'none of the configured transports can run here' });
      return;
    }
    this._setState('connecting');
    this._round = [];
    for (var i = 0; i < this._order.length; i++) { this._round.push((this._preferred + i) % this._order.length); }
    this._roundPos = 0;
    this._open(this._round[0], 'connect');
  };

  P._open = function (index, purpose) {
    var self = this, name = this._order[index], list = keys(this._channels);
    var h = { id: ++this._seq, name: name, index: index, purpose: purpose, t: null, probe: null,
      channels: {}, live: {}, pending: {}, proven: false, dead: false, recycle: false, last: 0 };
    for (var i = 0; i < list.length; i++) { h.channels[list[i]] = this._channels[list[i]].cursor; }
    this._cand = h;
    h.probe = this._timers.setTimeout(function () {
      h.probe = null;
      self._candFailed(h, { code: 'probe_timeout', message: name + ' carried no data within ' + self._cfg.probeTimeout + ' ms' });
    }, this._cfg.probeTimeout);
    var since = {};
    for (i = 0; i < list.length; i++) { since[list[i]] = h.channels[list[i]]; }
    var ctx = { url: this.url, token: this._cfg.token, channels: list, since: since, cursor: this._pickSince(list),
      pollTimeout: this._cfg.pollTimeout, jsonp: this._cfg.jsonp, wsProtocol: this._cfg.wsProtocol,
      maxStreamBytes: this._cfg.maxStreamBytes, env: this._env, timers: this._timers, sink: makeSink(this, h) };
    try {
      h.t = this._factories[name](ctx);
    } catch (e) {
      this._timers.setTimeout(function () { self._candFailed(h, { code: 'open_failed', message: String(e && e.message || e) }); }, 0);
    }
    if (h.dead && h.t) { try { h.t.close(); } catch (e2) { /* already gone */ } }
  };

  // One resume cursor for transports that take a single `since`: the oldest
  // channel cursor of the newest log. Channels further ahead drop the replayed
  // duplicates; channels of an older log get a gap when the server answers.
  P._pickSince = function (list) {
    var best = null, epoch = this._lastEpoch, i, c;
    if (epoch == null) {
      for (i = 0; i < list.length && epoch == null; i++) { epoch = epochOf(this._channels[list[i]].cursor); }
    }
    for (i = 0; i < list.length; i++) {
      c = this._channels[list[i]].cursor;
      if (c != null && epochOf(c) === epoch && (best == null || isNewer(best, c))) { best = c; }
    }
    return best;
  };

  P._kill = function (h) {
    if (!h || h.dead) { return; }
    h.dead = true;
    if (h.probe != null) { this._timers.clearTimeout(h.probe); h.probe = null; }
    if (h.t) { try { h.t.close(); } catch (e) { /* already gone */ } }
  };

  P._stopAll = function () {
    this._kill(this._active); this._kill(this._cand);
    this._active = null; this._cand = null;
    for (var k in this._tm) { if (has(this._tm, k)) { this._cancel(k); } }
  };

  P._proven = function (h) {
    if (h.proven) { return; }
    h.proven = true;
    if (h.probe != null) { this._timers.clearTimeout(h.probe); h.probe = null; }
    if (h !== this._cand) { return; }
    var old = this._active;
    this._cand = null;
    this._active = h;
    if (old) { this._kill(old); }
    if (h.purpose === 'connect') { this._attempt = 0; }
    if (h.purpose !== 'replace') {
      this._failbackFails = 0;
      this._preferred = h.index;
      try { if (this._env.sessionStorage) { this._env.sessionStorage.setItem(this._storeKey, h.name); } } catch (e) { /* full or blocked */ }
      this._scheduleFailback();
    }
    this._setState('connected');
    if (this._transport !== h.name) { this._transport = h.name; this._emit('transport', h.name); }
    this._armIdle();
    this._armPing();
    this._later('sync', 0, this._sync);
  };

  P._candFailed = function (h, err) {
    if (h.dead || h !== this._cand) { return; }
    this._cand = null;
    this._kill(h);
    this._emitError(err, h.name);
    if (h.purpose === 'connect') {
      if (++this._roundPos < this._round.length) { this._open(this._round[this._roundPos], 'connect'); } else { this._retry(); }
    } else if (h.purpose === 'failback') {
      if (this._active && h.index + 1 < this._active.index) { this._open(h.index + 1, 'failback'); } else {
        this._failbackFails++;
        this._scheduleFailback();
        this._later('sync', 0, this._sync);
      }
    } else {
      this._lost(this._active, null);   // the working transport no longer opens (err already reported)
    }
  };

  P._lost = function (h, err) {
    if (!h || h !== this._active) { return; }
    this._active = null;
    this._kill(h);
    this._kill(this._cand);
    this._cand = null;
    if (err) { this._emitError(err, h.name); }
    this._preferred = h.index;
    this._retry();
  };

  P._retry = function () {
    this._stopAll();
    this._setState('disconnected');
    if (this._closed || !keys(this._channels).length) { return; }
    this._later('retry', backoffDelay(this._attempt++, this._cfg.backoff, this._random), this._connect);
  };

  P._emitError = function (err, name) {
    if (!err) { return; }
    var e = {}, k;
    for (k in err) { if (has(err, k)) { e[k] = err[k]; } }
    if (!e.transport) { e.transport = name; }
    this._emit('error', e);
  };

  // Failback: while on a worse transport, try the better ones again in the
  // background; the interval doubles after each failed round, up to 16x.
  P._scheduleFailback = function () {
    this._cancel('failback');
    var a = this._active;
    if (!a || a.index === 0 || !this._cfg.failbackInterval) { return; }
    var d = this._cfg.failbackInterval * Math.pow(2, Math.min(this._failbackFails, 4));
    this._later('failback', Math.floor(d * (0.5 + this._random() / 2)), function () {
      if (!this._active) { return; }
      if (this._cand) { this._scheduleFailback(); return; }
      this._open(0, 'failback');
    });
  };

  // Liveness: any data, pong or heartbeat comment counts; silence for
  // idleTimeout means a middlebox dropped the connection without telling us.
  P._armIdle = function () {
    var a = this._active;
    if (!a) { return; }
    var limit = Math.max(this._cfg.idleTimeout, (a.t && a.t.minIdle) || 0);
    var wait = a.last + limit - this._timers.now();
    if (wait <= 0) { this._lost(a, { code: 'idle', message: 'no data or heartbeat for ' + limit + ' ms' }); return; }
    this._later('idle', wait, this._armIdle);
  };
  P._armPing = function () {
    if (!this._cfg.pingInterval) { return; }
    this._later('ping', this._cfg.pingInterval, function () {
      var a = this._active;
      if (a && a.t && a.t.ping) { a.t.ping(); }
      this._armPing();
    });
  };

  // ---- what transports report ----

  function makeSink(self, h) {
    function touch(proof) {
      if (h.dead || self._closed) { return false; }
      h.last = self._timers.now();
      if (proof && !h.proven) { self._proven(h); }
      return !h.dead;
    }
    return {
      // The server streams `channels` from `cursor` on (plus a replay after each since when recovered).
      subscribed: function (channels, recovered, cursor) { if (touch(true)) { self._onSubscribed(h, channels, recovered, cursor); } },
      // One long-poll answer: `messages` then everything up to `cursor` is delivered;
      // `skipped` ({channel: count}) says what a "latest" channel skipped for its newest.
      batch: function (channels, recovered, messages, cursor, skipped) { if (touch(true)) { self._onBatch(h, channels, recovered, messages, cursor, skipped); } },
      // A stream skipped `skipped` messages of a "latest" channel; its newest follows.
      gap: function (channel, skipped) { if (touch(true)) { self._onSkipped(h, channel, skipped); } },
      message: function (env) { if (touch(true)) { self._onMessage(h, env); } },
      // A presence event ({type: 'join'|'leave', channel, user, info}): no cursor, not replayed.
      presence: function (ev) { if (touch(true)) { self._onPresence(h, ev); } },
      alive: function (proof) { touch(proof); },
      error: function (err) { if (touch(true)) { self._emitError(err, h.name); } },
      // The transport wants to be reopened (e.g. an XHR stream grew too large).
      recycle: function () { if (touch(false) && h === self._active) { h.recycle = true; self._later('sync', 0, self._sync); } },
      closed: function (err) {
        if (h.dead) { return; }
        if (h === self._cand) { self._candFailed(h, err); } else { self._lost(h, err || { code: 'closed', message: h.name + ' closed' }); }
      }
    };
  }

  P._onSubscribed = function (h, channels, recovered, cursor) {
    if (cursor != null) { this._lastEpoch = epochOf(cursor); }
    for (var i = 0; i < channels.length; i++) {
      var n = channels[i], c = this._channels[n];
      if (!c || !has(h.channels, n)) { continue; }
      var sent = h.channels[n];
      if (recovered === false || (sent != null && cursor != null && epochOf(sent) !== epochOf(cursor))) {
        if (sent != null) { this._emit('gap', { channel: n }); }
        c.cursor = laterCursor(c.cursor, cursor);
        h.live[n] = true;
      } else if (sent == null) {
        // New channel: the server streams from now; anything replayed for it is older history.
        c.cursor = laterCursor(c.cursor, cursor);
        h.live[n] = true;
      } else if (cursor != null && isNewer(cursor, sent)) {
        h.pending[n] = cursor;    // replay (sent, cursor] still to come
      } else {
        h.live[n] = true;
      }
    }
  };

  // Conflation (a slow subscriber of a "latest" namespace): the server replaced
  // messages by a newer one, which comes next in cursor order; nothing to resume.
  P._onSkipped = function (h, channel, skipped) {
    if (typeof channel === 'string' && has(this._channels, channel) && has(h.channels, channel)) {
      this._emit('gap', { channel: channel, skipped: typeof skipped === 'number' ? skipped : 0 });
    }
  };

  P._onBatch = function (h, channels, recovered, messages, cursor, skipped) {
    var i, n, c;
    if (skipped && typeof skipped === 'object') {
      for (n in skipped) { if (has(skipped, n)) { this._onSkipped(h, n, skipped[n]); } }
    }
    for (i = 0; i < channels.length; i++) {
      n = channels[i]; c = this._channels[n];
      if (c && has(h.channels, n) && recovered === false) {
        if (h.channels[n] != null) { this._emit('gap', { channel: n }); }
        c.cursor = null;
      }
    }
    for (i = 0; i < messages.length && !h.dead; i++) { this._onMessage(h, messages[i]); }
    if (cursor != null) { this._lastEpoch = epochOf(cursor); }
    for (i = 0; i < channels.length; i++) {
      n = channels[i]; c = this._channels[n];
      if (c && has(h.channels, n)) { c.cursor = laterCursor(c.cursor, cursor); h.channels[n] = cursor; }
    }
  };

  P._onPresence = function (h, ev) {
    if (!ev || (ev.type !== 'join' && ev.type !== 'leave') || typeof ev.channel !== 'string') { return; }
    if (!has(this._channels, ev.channel) || !has(h.channels, ev.channel)) { return; }
    this._emit(ev.type, { channel: ev.channel, user: ev.user, info: ev.info == null ? null : ev.info });
  };

  P._onMessage = function (h, m) {
    if (!m || typeof m.channel !== 'string') { return; }
    var name = m.channel, id = m.id, c = this._channels[name], n, o;
    if (id != null) { this._lastEpoch = epochOf(id); }
    if (c && (id == null || c.cursor == null || isNewer(id, c.cursor))) {
      if (id != null) { c.cursor = id; }
      var msg = { channel: name, id: id, ts: m.ts, data: m.data }, subs = c.subs.slice();
      for (var i = 0; i < subs.length; i++) {
        if (subs[i].on) {
          try { subs[i].fn(msg); } catch (e) { this._emit('error', { code: 'callback', message: String(e && e.message || e), error: e }); }
        }
      }
    }
    if (id == null || h.dead) { return; }
    // A connection sends in cursor order, so this message also proves every
    // channel live on it is complete up to `id`: move their resume points.
    for (n in h.live) {
      if (has(h.live, n) && n !== name && (o = this._channels[n])) { o.cursor = laterCursor(o.cursor, id); }
    }
    for (n in h.pending) {
      if (has(h.pending, n) && !isNewer(h.pending[n], id)) {
        delete h.pending[n];
        h.live[n] = true;
        if ((o = this._channels[n])) { o.cursor = laterCursor(o.cursor, id); }
      }
    }
  };

  // ---- transports ----
  // A factory takes ctx {url, token, channels, since (per channel), cursor
  // (single resume cursor), pollTimeout, jsonp, env, timers, sink} and returns
  // {close(), subscribe?(channel, since), unsubscribe?(channel), ping?(), minIdle?}.

  function websocketTransport(ctx) {
    var sink = ctx.sink, ws, open = false, done = false, queue = [], i;
    var url = ctx.url.replace(/^http/, 'ws') + '/ws' + joinQuery([tokenParam(ctx.token)]);
    function send(frame) {
      if (done) { return; }
      if (open) { ws.send(JSON.stringify(frame)); } else { queue.push(frame); }
    }
    function sub(channel, since) {
      var f = { op: 'subscribe', channel: channel };
      if (since != null) { f.since = since; }
      send(f);
    }
    try {
      ws = ctx.wsProtocol ? new ctx.env.WebSocket(url, ctx.wsProtocol) : new ctx.env.WebSocket(url);
    } catch (e) {
      ctx.timers.setTimeout(function () { sink.closed({ code: 'ws_failed', message: String(e && e.message || e) }); }, 0);
      return { close: noop };
    }
    // A ping right after open proves the path even before any subscribed frame.
    send({ op: 'ping' });
    for (i = 0; i < ctx.channels.length; i++) { sub(ctx.channels[i], ctx.since[ctx.channels[i]]); }
    ws.onopen = function () {
      open = true;
      var q = queue;
      queue = [];
      for (var j = 0; j < q.length; j++) { send(q[j]); }
    };
    ws.onmessage = function (ev) {
      var f = typeof ev.data === 'string' ? parseJSON(ev.data) : null;
      if (!f) { sink.alive(false); return; }
      if (f.op === 'message') { sink.message(f); } else if (f.op === 'join' || f.op === 'leave') { sink.presence({ type: f.op, channel: f.channel, user: f.user, info: f.info }); } else if (f.op === 'subscribed') { sink.subscribed([f.channel], f.recovered, f.cursor); } else if (f.op === 'gap') { sink.gap(f.channel, f.skipped); } else if (f.op === 'error') { sink.error({ code: f.code, message: f.message }); } else { sink.alive(true); }
    };
    ws.onerror = noop;  // onclose follows with the details the browser gives
    ws.onclose = function (ev) {
      if (done) { return; }
      done = true;
      sink.closed({ code: 'ws_closed', message: 'WebSocket closed (' + (ev && ev.code) + ')' });
    };
    return {
      subscribe: sub,
      unsubscribe: function (channel) { send({ op: 'unsubscribe', channel: channel }); },
      ping: function () { send({ op: 'ping' }); },
      close: function () {
        done = true;
        ws.onopen = ws.onmessage = ws.onclose = noop;
        try { ws.close(); } catch (e) { /* not open yet */ }
      }
    };
  }
  websocketTransport.isSupported = function (env) { return !!env.WebSocket; };

  // Incremental text/event-stream parser (any line ending, split anywhere).
  function SseParser(onEvent, onComment) {
    this.buf = ''; this.event = ''; this.data = []; this.id = null;
    this.onEvent = onEvent; this.onComment = onComment;
  }
  SseParser.prototype.push = function (chunk) {
    var buf = this.buf + chunk, m, re = /\r\n|\r|\n/g, start = 0;
    while ((m = re.exec(buf))) {
      if (m[0] === '\r' && m.index === buf.length - 1) { break; }   // may be the first half of \r\n
      this.line(buf.substring(start, m.index));
      start = m.index + m[0].length;
    }
    this.buf = buf.substring(start);
  };
  SseParser.prototype.line = function (line) {
    if (line === '') {
      if (this.data.length) { this.onEvent(this.event || 'message', this.data.join('\n'), this.id); }
      this.event = ''; this.data = [];
      return;
    }
    if (line.charAt(0) === ':') { this.onComment(line.substring(1)); return; }
    var i = line.indexOf(':'), field = i < 0 ? line : line.substring(0, i), value = i < 0 ? '' : line.substring(i + 1);
    if (value.charAt(0) === ' ') { value = value.substring(1); }
    if (field === 'event') { this.event = value; } else if (field === 'data') { this.data.push(value); } else if (field === 'id') { this.id = value; }
  };

  // SSE read by hand instead of through EventSource: EventSource hides comment
  // heartbeats (needed for liveness) and reconnects on its own schedule. The stream
  // is read with fetch where the browser streams response bodies (each chunk as it
  // arrives), else with XHR streaming (responseText as it grows; some browsers fire
  // progress only every 50 ms, and the text must be dropped by reopening).
  function sseTransport(ctx) {
    var sink = ctx.sink;
    var url = ctx.url + '/sse' + joinQuery([channelParams(ctx.channels),
      ctx.cursor != null ? 'since=' + enc(ctx.cursor) : '', 'padding=1', tokenParam(ctx.token)]);
    var parser = new SseParser(function (event, data, id) {
      var d = parseJSON(data);
      if (event === 'subscribed' && d) {
        sink.subscribed(isArray(d.channels) ? d.channels : ctx.channels, d.recovered, d.cursor);
      } else if (event === 'message' && d) {
        if (d.id == null) { d.id = id; }
        sink.message(d);
      } else if (event === 'gap' && d) {
        sink.gap(d.channel, d.skipped);
      } else if ((event === 'join' || event === 'leave') && d) {
        sink.presence({ type: event, channel: d.channel, user: d.user, info: d.info });
      } else if (event === 'error' && d) {
        sink.error({ code: d.code, message: d.message });
      } else {
        sink.alive(false);
      }
    }, function () { sink.alive(false); });
    var ended = { code: 'sse_ended', message: 'event stream ended' };
    return fetchStreams(ctx.env) ? sseByFetch(ctx, url, parser, ended) : sseByXhr(ctx, url, parser, ended);
  }
  sseTransport.isSupported = function (env) { return fetchStreams(env) || corsXhr(env); };

  function sseByFetch(ctx, url, parser, ended) {
    var env = ctx.env, sink = ctx.sink, abort = new env.AbortController(), done = false;
    function finish(why) {
      if (done) { return; }
      done = true;
      sink.closed(why);
    }
    function failed() { finish(httpError(0, null)); }
    env.fetch(url, { signal: abort.signal, cache: 'no-store' }).then(function (res) {
      if (done) { return; }
      if (res.status !== 200) {
        res.text().then(function (body) { finish(httpError(res.status, parseJSON(body))); }, function () { finish(httpError(res.status, null)); });
        return;
      }
      var reader = res.body.getReader(), decoder = new env.TextDecoder();
      function next() {
        reader.read().then(function (chunk) {
          if (done) { return; }
          if (chunk.done) { finish(ended); return; }
          parser.push(decoder.decode(chunk.value, { stream: true }));
          next();
        }, failed);
      }
      next();
    }, failed);
    return {
      close: function () {
        done = true;
        try { abort.abort(); } catch (e) { /* finished */ }
      }
    };
  }

  function sseByXhr(ctx, url, parser, ended) {
    var sink = ctx.sink, xhr = new ctx.env.XMLHttpRequest(), seen = 0, done = false, recycled = false;
    function read() {
      if (done || xhr.readyState < 3) { return; }
      var text;
      try {
        if (xhr.status !== 200) { return; }
        text = xhr.responseText;
      } catch (e) { return; }  // old IE: not readable before the end
      if (!text || text.length <= seen) { return; }
      var chunk = text.substring(seen);
      seen = text.length;
      parser.push(chunk);
      if (!done && !recycled && seen > ctx.maxStreamBytes) { recycled = true; sink.recycle(); }
    }
    xhr.onreadystatechange = function () {
      read();
      if (xhr.readyState === 4 && !done) {
        done = true;
        sink.closed(xhr.status === 200 ? ended : httpError(xhr.status, parseJSON(xhr.responseText)));
      }
    };
    try { xhr.onprogress = read; } catch (e) { /* readystatechange still fires */ }
    xhr.open('GET', url, true);
    xhr.send(null);
    return {
      close: function () {
        done = true;
        xhr.onreadystatechange = noop;
        try { xhr.abort(); } catch (e) { /* finished */ }
      }
    };
  }

  // Herald's error bodies are {"error": {code, message}}; a flat
  // {code, message} (another server or proxy in front) is read too.
  function httpError(status, body) {
    var e = { code: status ? 'http_' + status : 'network', status: status || 0,
      message: status ? 'HTTP ' + status : 'network error or CORS refusal' };
    if (body && body.error && typeof body.error === 'object') { body = body.error; }
    if (body && body.message) { e.message = body.message; }
    if (body && body.code) { e.server = body.code; }
    return e;
  }

  function xhrGet(env, url, cb) {
    var xhr = new env.XMLHttpRequest(), over = false;
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4 || over) { return; }
      over = true;
      var body = parseJSON(xhr.responseText);
      if (xhr.status === 200 && body) { cb(null, body); } else { cb(xhr.status === 200 ? { code: 'bad_response', message: 'poll answer is not JSON' } : httpError(xhr.status, body)); }
    };
    xhr.open('GET', url, true);
    xhr.send(null);
    return { abort: function () { over = true; try { xhr.abort(); } catch (e) { /* finished */ } } };
  }

  var jsonpSeq = 0;
  function jsonpGet(env, url, cb) {
    var doc = env.document, win = env.window, name = '__heraldJsonp' + (++jsonpSeq) + '_' + new Date().getTime();
    var script = doc.createElement('script'), over = false;
    function finish(err, body) {
      if (over) { return; }
      over = true;
      script.onerror = null;
      if (script.parentNode) { script.parentNode.removeChild(script); }
      cb(err, body);
    }
    win[name] = function (body) {
      try { delete win[name]; } catch (e) { win[name] = undefined; }
      finish(null, body);
    };
    script.onerror = function () { finish({ code: 'network', message: 'JSONP request failed' }); };
    script.src = url + '&callback=' + name;
    (doc.getElementsByTagName('head')[0] || doc.documentElement).appendChild(script);
    return {
      abort: function () {
        over = true;
        win[name] = noop;   // the script may still run; keep its callback harmless
        script.onerror = null;
        if (script.parentNode) { script.parentNode.removeChild(script); }
      }
    };
  }

  function longpollTransport(ctx) {
    var sink = ctx.sink, since = ctx.cursor, first = true, req = null, done = false;
    var get = (ctx.jsonp || !corsXhr(ctx.env)) ? jsonpGet : xhrGet;
    function poll() {
      // The first poll answers at once (timeout=0): that is the probe.
      var url = ctx.url + '/poll' + joinQuery([channelParams(ctx.channels), since != null ? 'since=' + enc(since) : '',
        'timeout=' + (first ? 0 : ctx.pollTimeout), tokenParam(ctx.token)]);
      req = get(ctx.env, url, function (err, body) {
        req = null;
        if (done) { return; }
        if (!err && (!body || !isArray(body.messages))) { err = { code: 'bad_response', message: 'poll answer has no messages list' }; }
        if (err) { done = true; sink.closed(err); return; }
        first = false;
        if (body.cursor != null) { since = body.cursor; }
        sink.batch(ctx.channels, body.recovered, body.messages, body.cursor, body.skipped);
        if (isArray(body.presence)) {
          for (var i = 0; i < body.presence.length && !done; i++) { sink.presence(body.presence[i]); }
        }
        if (!done) { poll(); }
      });
    }
    poll();
    return {
      minIdle: (ctx.pollTimeout + 15) * 1000,
      close: function () { done = true; if (req) { req.abort(); req = null; } }
    };
  }
  longpollTransport.isSupported = function (env, cfg) {
    return corsXhr(env) || !!(env.document && env.window) || !!(cfg && cfg.jsonp && env.document);
  };

  var TRANSPORTS = { websocket: websocketTransport, sse: sseTransport, longpoll: longpollTransport };

  Herald.transports = TRANSPORTS;
  // So `require('herald').default` and `.Herald` work as the typings declare.
  Herald['default'] = Herald;
  Herald.Herald = Herald;
  // Internals exposed for tests and custom transports; not a stable API.
  Herald._internal = { isNewer: isNewer, laterCursor: laterCursor, compareSeq: compareSeq, backoffDelay: backoffDelay,
    SseParser: SseParser, DEFAULTS: DEFAULTS };
  return Herald;
}));
