'use strict';
// Fakes for the Herald client tests: a clock, transports the test drives by
// hand, and stand-ins for WebSocket / XMLHttpRequest / a JSONP document.
// Run directly by `node --test` (it lives in test/), it checks the fakes themselves.

const Herald = require('../herald.js');

class FakeClock {
  constructor() {
    this.t = 0;
    this.timers = new Map();
    this.nextId = 1;
    this.setTimeout = (fn, ms) => {
      const id = this.nextId++;
      this.timers.set(id, { fn, due: this.t + Math.max(0, ms || 0) });
      return id;
    };
    this.clearTimeout = (id) => { this.timers.delete(id); };
    this.now = () => this.t;
  }
  // Runs every timer due within `ms`, in due order (then creation order).
  tick(ms = 0) {
    const end = this.t + ms;
    for (;;) {
      let best = null;
      for (const [id, tm] of this.timers) {
        if (tm.due <= end && (!best || tm.due < best[1].due || (tm.due === best[1].due && id < best[0]))) best = [id, tm];
      }
      if (!best) break;
      this.timers.delete(best[0]);
      this.t = best[1].due;
      best[1].fn();
    }
    this.t = end;
  }
  // Delays (from now) of the pending timers, sorted.
  pending() { return [...this.timers.values()].map((tm) => tm.due - this.t).sort((a, b) => a - b); }
}

function memoryStorage(initial = {}) {
  const data = { ...initial };
  return {
    data,
    getItem: (k) => (k in data ? data[k] : null),
    setItem: (k, v) => { data[k] = String(v); },
  };
}

// Transports that do nothing by themselves: the test plays the server by
// calling t.sink.subscribed / message / batch / alive / closed.
function fakeTransports(names = ['websocket', 'sse', 'longpoll']) {
  const opened = [];
  const factories = {};
  for (const name of names) {
    factories[name] = (ctx) => {
      const t = {
        name, ctx, sink: ctx.sink, closed: false, subs: [], unsubs: [], pings: 0,
        close() { t.closed = true; },
      };
      if (name === 'websocket') {
        t.subscribe = (channel, since) => { t.subs.push({ channel, since }); };
        t.unsubscribe = (channel) => { t.unsubs.push(channel); };
        t.ping = () => { t.pings++; };
      }
      opened.push(t);
      return t;
    };
  }
  const net = {
    opened,
    of: (name) => opened.filter((t) => t.name === name),
    last: (name) => { const l = opened.filter((t) => !name || t.name === name); return l[l.length - 1]; },
    open: () => opened.filter((t) => !t.closed),
  };
  return { net, factories };
}

const env = (seq, channel = 'a', data = seq, epoch = 'e1') => ({ channel, id: `${epoch}-${seq}`, ts: 1000 + seq, data });

// A Herald on fakes, with every event recorded.
function setup(options = {}) {
  const clock = new FakeClock();
  const { net, factories } = fakeTransports(options.names);
  const storage = options.storage || memoryStorage();
  const h = new Herald('http://herald.test/', {
    timers: clock,
    random: options.random || (() => 0.5),
    transportFactories: factories,
    env: { sessionStorage: storage, WebSocket: undefined, XMLHttpRequest: undefined, document: undefined, window: undefined },
    ...options.herald,
  });
  const events = { state: [], transport: [], gap: [], error: [] };
  for (const k of Object.keys(events)) h.on(k, (v) => events[k].push(v));
  const got = {};
  const collect = (channel) => (m) => { (got[channel] = got[channel] || []).push(m); };
  return { h, clock, net, storage, events, got, collect };
}
const ids = (list) => (list || []).map((m) => m.id);

// ---- DOM-ish stand-ins for the real transports ----

class FakeWebSocket {
  constructor(url, protocol) {
    this.url = url; this.protocol = protocol; this.sent = []; this.closed = false;
    FakeWebSocket.instances.push(this);
  }
  send(text) { if (this.closed) throw new Error('send after close'); this.sent.push(JSON.parse(text)); }
  close() { this.closed = true; }
  // server side
  serverOpen() { this.onopen && this.onopen({}); }
  serverSend(frame) { this.onmessage && this.onmessage({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) }); }
  serverClose(code = 1006) { this.closed = true; this.onclose && this.onclose({ code }); }
}
FakeWebSocket.instances = [];

class FakeXHR {
  constructor() {
    this.withCredentials = false; this.readyState = 0; this.status = 0; this.responseText = '';
    this.headers = {}; this.aborted = false;
  }
  // Listed from open() on: the client also creates one just to test for CORS.
  open(method, url) { this.method = method; this.url = url; this.readyState = 1; FakeXHR.instances.push(this); }
  setRequestHeader(k, v) { this.headers[k] = v; }
  send(body) { this.body = body; }
  abort() { this.aborted = true; }
  fire() { this.onreadystatechange && this.onreadystatechange(); }
  // server side
  stream(text, status = 200) {
    this.status = status; this.readyState = 3; this.responseText += text;
    this.onprogress && this.onprogress({}); this.fire();
  }
  respond(status, text) { this.status = status; this.responseText += text; this.readyState = 4; this.fire(); }
}
FakeXHR.instances = [];

// Enough of document/window for JSONP: scripts "load" when the test calls run().
function fakeDom() {
  const scripts = [];
  const win = {};
  const head = {
    appendChild(s) { s.parentNode = head; scripts.push(s); },
    removeChild(s) { s.parentNode = null; },
  };
  const document = {
    createElement: () => ({ src: '', parentNode: null }),
    getElementsByTagName: () => [head],
    documentElement: head,
  };
  // Answer the newest script: call its callback as the server's JS would.
  const answer = (body) => {
    const s = scripts[scripts.length - 1];
    const name = new URL(s.src).searchParams.get('callback');
    win[name](body);
  };
  return { document, window: win, scripts, answer };
}

module.exports = { Herald, FakeClock, memoryStorage, fakeTransports, setup, env, ids, FakeWebSocket, FakeXHR, fakeDom };

if (require.main === module) {
  const test = require('node:test');
  const assert = require('node:assert');
  test('fake clock runs timers in due order and honours clearTimeout', () => {
    const c = new FakeClock();
    const out = [];
    c.setTimeout(() => out.push('b'), 20);
    c.setTimeout(() => out.push('a'), 10);
    const x = c.setTimeout(() => out.push('x'), 15);
    c.clearTimeout(x);
    c.setTimeout(() => c.setTimeout(() => out.push('c'), 5), 10);
    c.tick(14);
    assert.deepStrictEqual(out, ['a']);
    c.tick(6);
    assert.deepStrictEqual(out, ['a', 'c', 'b']);
    assert.strictEqual(c.now(), 20);
  });
}
