// One codec, one chunk size, in a process of its own (so no codec inherits another's JIT state or heap).
// usage: node child.mjs CODEC [--chunk 65536] [--cases small,large,params] [--samples 3] [--sample-ms 200]
// Prints one JSON line per (case, sample): {codec, version, case, chunk, passes, secs, records, bytes, requests}.
// Every pass is checked against what the stream holds; a wrong count exits non-zero.
import { buildCase } from './streams.mjs';

const argv = process.argv.slice(2);
const opt = (k, d) => {
  const i = argv.indexOf('--' + k);
  return i >= 0 ? argv[i + 1] : d;
};
const codec = (await import(`./adapters/${argv[0]}.mjs`)).default;
const CHUNK = +opt('chunk', 65536);
const CASES = opt('cases', 'small,large,params').split(',');
const SAMPLES = +opt('samples', 3);
const SAMPLE_MS = +opt('sample-ms', 200);

function pass(c) {
  const tally = { records: 0, content: 0, pairs: 0, chars: 0 };
  const p = codec.createParser(tally);
  const chunks = c.chunks;
  for (let i = 0; i < chunks.length; i++) p.push(chunks[i]);
  p.end?.();
  if (codec.noRecords) return;
  const w = c.want;
  if (tally.records !== w.records || (w.content !== null && tally.content !== w.content) || tally.pairs !== w.pairs || tally.chars !== w.chars) {
    throw new Error(`${codec.name} ${c.name} chunk=${CHUNK}: counted ${JSON.stringify(tally)}, the stream holds ${JSON.stringify(w)}`);
  }
}

for (const name of CASES) {
  const c = buildCase(name, CHUNK);
  // warm-up: at least 2 passes and one sample's time, so every tier of the JIT has seen the case
  const w0 = performance.now();
  for (let n = 0; n < 2 || performance.now() - w0 < SAMPLE_MS; n++) pass(c);
  for (let s = 0; s < SAMPLES; s++) {
    let passes = 0, ms = 0;
    const t0 = performance.now();
    do {
      pass(c);
      passes++;
      ms = performance.now() - t0;
    } while (ms < SAMPLE_MS);
    console.log(JSON.stringify({
      codec: codec.name, version: codec.version, case: name, chunk: CHUNK, passes, secs: ms / 1000,
      records: c.want.records, bytes: c.bytes, requests: c.requests,
    }));
  }
}
