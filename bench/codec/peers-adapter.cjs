'use strict';
// fcgi-wasm as one more column of the team's peers codec benchmark (../shared/peers, EXTRA_CODECS):
//   EXTRA_CODECS="fcgi-wasm=$PWD/bench/codec/peers-adapter.cjs" PHASES=codec bash ../shared/peers/run-peers.sh
//   node ../shared/peers/codec/codec-bench.js $PWD/bench/codec/peers-adapter.cjs --samples 1
// The harness require()s a CommonJS module and wants createParser() synchronously, but dist/ is ESM.
// Node 20.19+ loads ESM through require() (require(esm) unflagged; no top-level await in dist/, and the
// wasm is instantiated synchronously from embedded bytes), so no CJS build is needed. On Node 20.17/20.18
// run it with NODE_OPTIONS=--experimental-require-module; older Node 20 cannot do it synchronously at all.
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
const { Decoder, RecordType } = codec;

module.exports = {
  name: 'fcgi-wasm',
  version: JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version,
  createParser(onRecord) {
    // The harness wants one onRecord per record, with a PARAMS record's decoded pairs as its payload: a
    // PARAMS record is reported from pairs() (which follows its record() at once), as [name, value] strings.
    const d = new Decoder({
      record(type, requestId, content) {
        if (type !== RecordType.PARAMS) onRecord(type, requestId, content);
      },
      pairs(type, requestId, list) {
        if (type === RecordType.PARAMS) onRecord(type, requestId, list.toArray());
      },
    });
    return { push: (chunk) => d.push(chunk) };
  },
};
