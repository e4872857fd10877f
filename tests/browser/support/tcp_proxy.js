'use strict';
// A TCP proxy in front of Herald for the failback test. In 'pass' mode it
// relays bytes both ways. In 'blackhole-websocket' mode it behaves like a
// middlebox that lets the WebSocket handshake through and then silently drops
// every frame, in both directions, without closing anything: the browser sees
// an open WebSocket that never carries data.
//
// Browsers open a fresh TCP connection for each WebSocket, so the 101 is
// always the first response on its connection: only that one is inspected;
// keep-alive HTTP connections (SSE, long-poll) are relayed untouched after it.

const net = require('node:net');

const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;

function listen(server, port) {
  return new Promise((resolve, reject) => {
    const onError = (e) => { server.off('listening', onListening); reject(e); };
    const onListening = () => { server.off('error', onError); resolve(server.address().port); };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, '127.0.0.1');
  });
}

async function startTcpProxy({ upstreamPort, mode, port = 0 }) {
  const sockets = new Set();
  const stats = { connections: 0, upgrades: 0 };
  const server = net.createServer((client) => {
    stats.connections++;
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let inspecting = mode === 'blackhole-websocket', head = Buffer.alloc(0), blackhole = false;
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.on('data', (d) => { if (!blackhole) { upstream.write(d); } });
    upstream.on('data', (d) => {
      if (blackhole) { return; }
      if (!inspecting) { client.write(d); return; }
      head = Buffer.concat([head, d]);
      const at = head.indexOf(HEAD_END);
      if (at < 0 && head.length < MAX_HEAD) { return; }
      inspecting = false;
      const statusLine = head.subarray(0, Math.max(0, head.indexOf('\r\n'))).toString('latin1');
      if (at >= 0 && / 101 /.test(statusLine)) {
        stats.upgrades++;
        client.write(head.subarray(0, at + HEAD_END.length));
        blackhole = true;
      } else {
        client.write(head);
      }
      head = null;
    });
  });
  // A port just released by another proxy can take a moment to be free again.
  let bound;
  for (let attempt = 0; ; attempt++) {
    try { bound = await listen(server, port); break; } catch (e) {
      if (e.code !== 'EADDRINUSE' || attempt >= 40) { throw e; }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    mode,
    stats,
    // Stops accepting; connections already open keep flowing as before.
    stopListening: () => new Promise((resolve) => {
      server.close();
      // 'close' waits for every connection; the listening socket itself is gone at once.
      setImmediate(resolve);
    }),
    close: () => {
      server.close();
      for (const s of sockets) { s.destroy(); }
      sockets.clear();
    },
  };
}

module.exports = { startTcpProxy };
