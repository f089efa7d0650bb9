// Every entry point of the installed package as a user imports it, and the codec at work through the
// root and the inspector: run by test/package in the consumer project under Node, Deno and Bun. Prints
// one JSON line.
import * as root from 'fcgi-wasm';
import * as codec from 'fcgi-wasm/codec';
import * as streams from 'fcgi-wasm/streams';
import * as inspector from 'fcgi-wasm/inspect';
import * as manager from 'fcgi-wasm/manager';
import { runSmoke } from './smoke.mjs';

const names = (entry) => Object.keys(entry).sort();
const enc = new codec.Encoder();
const request = new Uint8Array([
  ...enc.beginRequest(1, codec.Role.RESPONDER),
  ...enc.pairs(1, { SCRIPT_FILENAME: '/srv/www/index.php' }),
  ...enc.stream(codec.RecordType.STDIN, 1, new Uint8Array(0), true).flatMap((part) => [...part]),
]);
const exchange = inspector.inspect(request).conversations[0]?.exchanges[0];

console.log(
  JSON.stringify({
    resolved: import.meta.resolve('fcgi-wasm'),
    exports: { '.': names(root), './codec': names(codec), './streams': names(streams), './inspect': names(inspector), './manager': names(manager) },
    smoke: await runSmoke(root),
    inspected: exchange?.params,
  }),
);
