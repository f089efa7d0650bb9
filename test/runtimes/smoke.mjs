// The built package used from any runtime: Node, Deno, Bun (run as a script) and a browser page
// (imported as a module). Only web APIs and the package's codec and streams: no node: imports here.
import { Encoder, Decoder, decodeRecords, decodePairs, RecordType, Role, Flags, FastCGIProtocolError } from '../../dist/codec/index.js';
import { RecordDecoderStream, RecordEncoderStream } from '../../dist/streams/index.js';

function check(cond, what) {
  if (!cond) throw new Error(`smoke check failed: ${what}`);
}
const concat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
};

export async function runSmoke() {
  const enc = new Encoder();
  const body = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) & 255);
  const params = { SCRIPT_FILENAME: '/srv/index.php', HTTP_COOKIE: 'c'.repeat(200), EMPTY: '' };
  const bytes = concat([enc.beginRequest(1, Role.RESPONDER, Flags.KEEP_CONN), enc.pairs(1, params), ...enc.stream(RecordType.STDIN, 1, body, true)]);

  // whole-buffer decoding
  const records = decodeRecords(bytes);
  check(records[0].type === RecordType.BEGIN_REQUEST && records[0].requestId === 1, 'BEGIN_REQUEST');
  const pairs = decodePairs(records[1].content);
  check(JSON.stringify(pairs) === JSON.stringify(Object.entries(params)), 'pairs round trip');
  const stdin = concat(records.filter((r) => r.type === RecordType.STDIN).map((r) => r.content));
  check(stdin.length === body.length && stdin.every((b, i) => b === body[i]), 'STDIN round trip');

  // streaming: records -> bytes -> records, in 333-byte pieces
  const source = new ReadableStream({
    start(c) {
      c.enqueue({ type: RecordType.STDOUT, requestId: 2, content: body });
      c.enqueue({ type: RecordType.STDOUT, requestId: 2 });
      c.close();
    },
  });
  const framed = [];
  const reader = source.pipeThrough(new RecordEncoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    framed.push(value);
  }
  const all = concat(framed);
  const pieces = new ReadableStream({
    start(c) {
      for (let o = 0; o < all.length; o += 333) c.enqueue(all.slice(o, o + 333));
      c.close();
    },
  });
  const back = [];
  const r2 = pieces.pipeThrough(new RecordDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await r2.read();
    if (done) break;
    back.push(value);
  }
  const stdout = concat(back.map((r) => r.content));
  check(stdout.length === body.length && stdout.every((b, i) => b === body[i]), 'streams round trip');

  // a typed error with an offset
  let error = null;
  try {
    decodeRecords(Uint8Array.from([2, 6, 0, 1, 0, 0, 0, 0]));
  } catch (e) {
    error = e;
  }
  check(error instanceof FastCGIProtocolError && error.code === 'BAD_VERSION' && error.offset === 0, 'typed error');

  // lazy pairs through the Decoder
  let cookie = '';
  new Decoder({ pairs: (_t, _id, list) => list.length && (cookie = list.get('HTTP_COOKIE')) }).push(bytes);
  check(cookie.length === 200, 'Decoder pairs');

  return { ok: true, records: records.length, streamed: back.length, error: error.code };
}

// run as a script under Node, Deno or Bun: print the result
const isScript = typeof process !== 'undefined' && process.argv?.[1] && import.meta.url.endsWith(process.argv[1].split('/').pop());
if (isScript) {
  runSmoke().then(
    (r) => console.log(JSON.stringify(r)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
