'use strict';
// fcgi-wasm as one more column of the team's peers codec benchmark (../shared/peers, EXTRA_CODECS):
//   EXTRA_CODECS="fcgi-wasm=$PWD/bench/codec/peers-adapter.cjs" PHASES=codec CODEC_CHUNKS="65536 1460" bash ../shared/peers/run-peers.sh
//   node ../shared/peers/codec/codec-bench.js $PWD/bench/codec/peers-adapter.cjs --samples 1 --chunk 1460
// The harness require()s a CommonJS module and wants createParser() synchronously, but dist/ is ESM.
// Node 20.19+ loads ESM through require() (require(esm) unflagged; no top-level await in dist/, and the
// wasm is instantiated synchronously from embedded bytes), so no CJS build is needed. On Node 20.17/20.18
// run it with NODE_OPTIONS=--experimental-require-module; older Node 20 cannot do it synchronously at all.
//
// It measures the default path, the one the server and the client run: the Decoder's fragments (views
// of the pushed chunk; a record split across chunks is never joined) and PARAMS pairs read as strings.
// The harness wants one onRecord per record with the record's content: a record that lay in one chunk
// is reported with its one view, a split one at its last fragment as its list of views (RecordPieces:
// `.length` is its content length, `.parts` the views), as a consumer of fragments holds it.
const path = require('path');
const fs = require('fs');

const root = path.resolve(__dirname, '..', '..');
let codec;
try {
  codec = require(path.join(root, 'dist', 'codec', 'index.js'));
} catch (e) {
  if (e.code === 'ERR_REQUIRE_ESM') {
    e.message = `fcgi-wasm peers adapter: this Node (${process.version}) cannot require() ESM; use Node >= 20.19, ` +
      `or NODE_OPTIONS=--experimental-require-module on 20.17/20.18.\n${e.message}`;
  } else if (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND') {
    e.message = `fcgi-wasm peers adapter: ${root}/dist is missing or incomplete: run \`npm run build\` in ${root}.\n${e.message}`;
  }
  throw e;
}
const { Decoder, RecordType, Fragment } = codec;

/** A record's content as the fragments it came in. */
class RecordPieces {
  constructor(parts) {
    this.parts = parts;
    this.length = parts.reduce((n, p) => n + p.length, 0);
  }
}

module.exports = {
  name: 'fcgi-wasm',
  version: JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version,
  createParser(onRecord) {
    let parts = null; // the views of the split record in progress
    const d = new Decoder({
      fragment(type, requestId, bytes, flags) {
        if (type === RecordType.PARAMS) return; // reported with its pairs, below
        if ((flags & Fragment.END) === 0) {
          if ((flags & Fragment.START) !== 0) parts = [bytes];
          else parts.push(bytes);
        } else if ((flags & Fragment.START) !== 0) {
          onRecord(type, requestId, bytes);
        } else {
          parts.push(bytes);
          onRecord(type, requestId, new RecordPieces(parts));
          parts = null;
        }
      },
      pairs(type, requestId, list) {
        if (type === RecordType.PARAMS) onRecord(type, requestId, list.toArray());
      },
    });
    return { push: (chunk) => d.push(chunk) };
  },
};
