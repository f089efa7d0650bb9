// One request straight to a FastCGI app with a name-value pair split across two PARAMS records (legal,
// and a trap for php-fpm), so that a capture of real traffic holds one finding for the inspector to show.
// usage: node bench/web/split-pair-request.mjs PORT   (after npm run build)
import { connect } from 'node:net';
import { Encoder, RecordType, Role } from '../../dist/codec/index.js';

const port = Number(process.argv[2]);
const e = new Encoder();
const id = 1;
const body = e.pairsBody([['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/split-pair'], ['SCRIPT_NAME', '/split-pair'], ['QUERY_STRING', '']]);
const cut = 20; // inside REQUEST_URI's name
const bytes = [
  e.beginRequest(id, Role.RESPONDER, 0),
  e.record(RecordType.PARAMS, id, body.subarray(0, cut)),
  e.record(RecordType.PARAMS, id, body.subarray(cut)),
  e.record(RecordType.PARAMS, id),
  ...e.stream(RecordType.STDIN, id, new Uint8Array(0), true),
];
const socket = connect(port, '127.0.0.1', () => socket.end(Buffer.concat(bytes)));
socket.resume();
socket.setTimeout(5000, () => socket.destroy(new Error('no answer in 5 s')));
socket.on('error', (err) => {
  console.error(err.message);
  process.exitCode = 1;
});
