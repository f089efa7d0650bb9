'use strict';
// fcgi-wasm's Client as one more column of the team's peers client benchmark (../shared/peers):
//   EXTRA_CLIENTS="fcgi-wasm=$PWD/bench/client/peers-adapter.cjs" PHASES=client bash ../shared/peers/run-peers.sh
//   node ../shared/peers/client/client-bench.js $PWD/bench/client/peers-adapter.cjs 127.0.0.1:PORT
// dist/ is ESM; Node >= 20.19 require()s it (no top-level await in dist/). The Client keeps up to
// `concurrency` connections alive (FCGI_KEEP_CONN) and multiplexes when the app says it can.
const path = require('path');
const fs = require('fs');

const root = path.resolve(__dirname, '..', '..');
const { Client } = require(path.join(root, 'dist', 'index.js'));

module.exports = {
  name: 'fcgi-wasm',
  version: JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version,
  async connect({ host, port, concurrency }) {
    const client = new Client({ address: `${host}:${port}`, maxConnections: Math.max(1, concurrency), multiplex: process.env.FCGI_MPX === 'off' ? false : 'auto' });
    return {
      async request(params, body) {
        const r = await client.call({ params, body: body && body.length ? body : undefined });
        return { stdout: Buffer.from(r.stdout.buffer, r.stdout.byteOffset, r.stdout.length), stderr: Buffer.from(r.stderr.buffer, r.stderr.byteOffset, r.stderr.length), appStatus: r.appStatus };
      },
      close() {
        client.close();
      },
    };
  },
};
