// Smoke test of the BUILT package, the same code in every runtime: runSmoke(api) takes the package's
// exports. smoke-dist.mjs runs it as a script on the package root (dist/index.js) under Node, Deno or
// Bun; a browser page passes the portable entries (dist/codec + dist/streams), because the root also
// re-exports the Node-only server and client; test/package runs it on the installed tarball. Only web
// APIs here (no node: imports), so every way works.

const ID = 1;

function check(cond, what) {
  if (!cond) throw new Error(`smoke check failed: ${what}`);
}
const concat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
};
const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function collect(readable) {
  const out = [];
  const reader = readable.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
  return out;
}

/** Re-cuts a byte stream into pieces of pseudo-random sizes (fixed seed: a failure reproduces). */
function rechunk() {
  let seed = 0x2545f491;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  // many tiny pieces, so that headers, pair lengths and pairs are split too, among larger ones
  const size = () => (next() % 4 === 0 ? 1 + (next() % 8) : 1 + (next() % 700));
  let pending = new Uint8Array(0);
  let want = size();
  let pieces = 0;
  const stream = new TransformStream({
    transform(chunk, c) {
      pending = concat([pending, chunk]);
      while (pending.length >= want) {
        c.enqueue(pending.slice(0, want)); // fresh buffers: the decoder may keep views of its chunks
        pending = pending.subarray(want);
        want = size();
        pieces++;
      }
    },
    flush(c) {
      if (pending.length > 0) (c.enqueue(pending.slice()), pieces++);
    },
  });
  return { stream, pieces: () => pieces };
}

/** `api`: the package's exports (Encoder, decodeRecords, RecordDecoderStream, ...). */
export async function runSmoke(api) {
  const { Encoder, decodeRecords, decodePairs, encodePairs, RecordType, Role, Flags, FastCGIProtocolError } = api;
  const { RecordEncoderStream, RecordDecoderStream } = api;
  const enc = new Encoder();
  const params = [
    ['SCRIPT_FILENAME', '/srv/www/index.php'],
    ['REQUEST_METHOD', 'POST'],
    ['HTTP_COOKIE', 'c'.repeat(200)], // 200 bytes: a 4-byte value length
    ['EMPTY', ''],
  ];
  const body = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7 + (i >> 8)) & 255);
  const begin = enc.beginRequest(ID, Role.RESPONDER, Flags.KEEP_CONN);
  const bytes = concat([begin, enc.pairs(ID, params), ...enc.stream(RecordType.STDIN, ID, body, true)]);

  // 1. whole buffer: Encoder -> decodeRecords
  const records = decodeRecords(bytes);
  const { BEGIN_REQUEST: B, PARAMS: P, STDIN: S } = RecordType;
  check(same(records.map((r) => r.type), [B, P, P, S, S, S]), `record types ${records.map((r) => r.type)}`);
  check(records.every((r) => r.requestId === ID && r.version === 1), 'request ids and versions');
  check(sameBytes(records[0].content, begin.subarray(8)), 'BEGIN_REQUEST body');
  check(same(decodePairs(records[1].content), params), 'pairs round trip (decodeRecords)');
  check(sameBytes(concat(records.filter((r) => r.type === S).map((r) => r.content)), body), 'STDIN round trip (decodeRecords)');

  // 2. streams: records -> RecordEncoderStream -> random cuts -> RecordDecoderStream -> records
  const input = [
    { type: B, requestId: ID, content: begin.subarray(8) },
    { type: P, requestId: ID, content: encodePairs(params) },
    { type: P, requestId: ID },
    { type: S, requestId: ID, content: body }, // longer than a record: the encoder stream cuts it
    { type: S, requestId: ID },
  ];
  const source = new ReadableStream({
    start(c) {
      for (const r of input) c.enqueue(r);
      c.close();
    },
  });
  const cuts = rechunk();
  const back = await collect(source.pipeThrough(new RecordEncoderStream()).pipeThrough(cuts.stream).pipeThrough(new RecordDecoderStream()));
  check(same(back.map((r) => r.type), [B, P, P, S, S, S]), `streamed record types ${back.map((r) => r.type)}`);
  check(sameBytes(back[0].content, begin.subarray(8)), 'BEGIN_REQUEST body (streams)');
  check(same(back.filter((r) => r.type === P).flatMap((r) => r.pairs.toArray()), params), 'pairs round trip (streams)');
  check(back[1].pairs.get('HTTP_COOKIE')?.length === 200, 'PairList.get');
  check(sameBytes(concat(back.filter((r) => r.type === S).map((r) => r.content)), body), 'STDIN round trip (streams)');
  check(cuts.pieces() > 100, `the stream was cut into ${cuts.pieces()} pieces only`);

  // 3. typed errors: a version-2 header after a valid record, whole buffer and through the stream
  const bad = concat([begin, Uint8Array.from([2, S, 0, ID, 0, 0, 0, 0])]);
  const caught = (fn) => fn().then(() => null, (e) => e);
  const error = await caught(async () => decodeRecords(bad));
  check(error instanceof FastCGIProtocolError, `error class ${error && error.name}`);
  const badStream = new ReadableStream({ start: (c) => (c.enqueue(bad), c.close()) });
  const streamError = await caught(() => collect(badStream.pipeThrough(new RecordDecoderStream())));
  check(streamError instanceof FastCGIProtocolError, `stream error class ${streamError && streamError.name}`);

  return {
    records: records.length,
    streamed: back.length,
    pieces: cuts.pieces(),
    stdinBytes: body.length,
    error: { code: error.code, offset: error.offset },
    streamError: { code: streamError.code, offset: streamError.offset },
  };
}
