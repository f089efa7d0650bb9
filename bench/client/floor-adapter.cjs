'use strict';
// A measuring stick, not a client: the least a Node program can do per FastCGI request, as one more
// adapter for the peers harness's client-bench.js. It encodes a request once (the bench sends the
// same params and body every time), keeps `concurrency` connections, writes each request in one write
// and scans the reply only for STDOUT and END_REQUEST. No timeouts, no errors handled, no
// multiplexing, no validation: whatever a real client does costs more than this.
// bench/client/ceiling.sh uses it to show how much of the client-side bar any Node client could reach
// on this machine.
const net = require('net');

function record(type, content) {
  const pad = (8 - (content.length % 8)) % 8;
  const r = Buffer.alloc(8 + content.length + pad);
  r[0] = 1; // version
  r[1] = type;
  r.writeUInt16BE(1, 2); // request id 1
  r.writeUInt16BE(content.length, 4);
  r[6] = pad;
  content.copy(r, 8);
  return r;
}
function length(n) {
  if (n < 128) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0);
  return b;
}
/** BEGIN_REQUEST (responder, keep-conn), PARAMS and the empty PARAMS: one buffer. */
function encodeHead(params) {
  const pairs = [];
  for (const [k, v] of Object.entries(params)) {
    const name = Buffer.from(k, 'latin1');
    const value = Buffer.from(String(v), 'latin1');
    pairs.push(length(name.length), length(value.length), name, value);
  }
  return Buffer.concat([record(1, Buffer.from([0, 1, 1, 0, 0, 0, 0, 0])), record(4, Buffer.concat(pairs)), record(4, Buffer.alloc(0))]);
}
/** The body as STDIN records of at most 65528 bytes, then the empty STDIN. */
function encodeStdin(body) {
  const records = [];
  for (let at = 0; body && at < body.length; at += 65528) records.push(record(5, body.subarray(at, at + 65528)));
  records.push(record(5, Buffer.alloc(0)));
  return Buffer.concat(records);
}

module.exports = {
  name: 'node-floor',
  version: '0',
  async connect({ host, port, concurrency }) {
    const idle = [];
    const waiting = [];
    let opened = 0;
    let lastParams = null;
    let lastBody = null;
    let encoded = null;
    function open() {
      const socket = net.connect(port, host);
      socket.setNoDelay(true);
      const conn = { socket, resolve: null, stdout: [], rest: null };
      socket.on('data', (chunk) => {
        const buf = conn.rest ? Buffer.concat([conn.rest, chunk]) : chunk;
        let at = 0;
        while (at + 8 <= buf.length) {
          const type = buf[at + 1];
          const size = buf.readUInt16BE(at + 4);
          const end = at + 8 + size + buf[at + 6];
          if (end > buf.length) break;
          if (type === 6 && size > 0) conn.stdout.push(buf.subarray(at + 8, at + 8 + size));
          at = end;
          if (type === 3) {
            const resolve = conn.resolve;
            const stdout = Buffer.concat(conn.stdout);
            conn.resolve = null;
            conn.stdout = [];
            release(conn);
            resolve({ stdout, stderr: Buffer.alloc(0), appStatus: 0 });
          }
        }
        conn.rest = at < buf.length ? buf.subarray(at) : null;
      });
      return conn;
    }
    function release(conn) {
      const next = waiting.shift();
      if (next) next(conn);
      else idle.push(conn);
    }
    function acquire() {
      if (idle.length > 0) return Promise.resolve(idle.pop());
      if (opened < concurrency) {
        opened++;
        return Promise.resolve(open());
      }
      return new Promise((resolve) => waiting.push(resolve));
    }
    return {
      async request(params, body) {
        if (params !== lastParams || body !== lastBody) {
          lastParams = params;
          lastBody = body;
          encoded = Buffer.concat([encodeHead(params), encodeStdin(body)]);
        }
        const conn = await acquire();
        return new Promise((resolve) => {
          conn.resolve = resolve;
          conn.socket.write(encoded);
        });
      },
      close() {
        for (const conn of idle) conn.socket.destroy();
      },
    };
  },
};
