// The codec benchmark: every codec, each in a process of its own, fed the same synthetic streams in
// 64 KiB and in 1460-byte (one TCP segment) chunks; prints one markdown table per chunk size and the bars.
// usage: node bench/codec/run.mjs [--rounds 3] [--samples 3] [--sample-ms 200] [--codecs a,b] [--chunks 65536,1460]
//                                 [--cases small,large,params] [--jsonl FILE]
// Rounds are interleaved (A B C D A B C D ...) so a burst of load from elsewhere on the box hits every
// codec alike; a cell is the median of all its samples. This never asserts: a missed bar is reported,
// not failed. Only a wrong count (a broken parser) makes it exit non-zero.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const opt = (k, d) => {
  const i = argv.indexOf('--' + k);
  return i >= 0 ? argv[i + 1] : d;
};
const ROUNDS = +opt('rounds', 3);
const SAMPLES = opt('samples', '3');
const SAMPLE_MS = opt('sample-ms', '200');
const CODECS = opt('codecs', 'fcgi-wasm,walker,fastcgi-stream,fastcgi-parser,memcpy').split(',');
const CHUNKS = opt('chunks', '65536,1460').split(',').map(Number);
const CASES = opt('cases', 'small,large,params').split(',');
const JSONL = opt('jsonl', '');

const child = fileURLToPath(new URL('./child.mjs', import.meta.url));
if (!existsSync(new URL('../../dist/codec/index.js', import.meta.url))) {
  console.error('dist/codec/index.js is missing: run `npm run build` first');
  process.exit(2);
}

// ---- measure
const samples = []; // {codec, version, case, chunk, passes, secs, records, bytes, requests}
const failed = new Set();
const load0 = loadavg()[0];
const t0 = Date.now();
for (let round = 1; round <= ROUNDS; round++) {
  for (const chunk of CHUNKS) {
    for (const codec of CODECS) {
      if (failed.has(codec)) continue;
      const args = ['--no-deprecation', child, codec, '--chunk', String(chunk), '--cases', CASES.join(','), '--samples', SAMPLES, '--sample-ms', SAMPLE_MS];
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
      for (const line of r.stdout.split('\n').filter(Boolean)) samples.push({ round, ...JSON.parse(line) });
      if (r.status !== 0) {
        failed.add(codec);
        console.error(`!! ${codec} chunk=${chunk} failed (status ${r.status}${r.signal ? ', ' + r.signal : ''}):\n${r.stderr.trim()}`);
      }
    }
  }
  console.error(`round ${round}/${ROUNDS} done (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}
if (JSONL) writeFileSync(JSONL, samples.map((s) => JSON.stringify(s)).join('\n') + '\n');

// ---- summarize
const UNIT = { small: 'rec/s', large: 'GB/s', params: 'req/s' };
// the figure of one sample in its case's unit; memcpy parses nothing, so it only has GB/s of wire bytes
function figure(s) {
  const per = s.passes / s.secs;
  if (s.codec === 'memcpy' || s.case === 'large') return (s.bytes * per) / 1e9;
  return s.case === 'params' ? s.requests * per : s.records * per;
}
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const figures = (codec, kase, chunk) => samples.filter((s) => s.codec === codec && s.case === kase && s.chunk === chunk).map(figure);
const med = (codec, kase, chunk) => {
  const f = figures(codec, kase, chunk);
  return f.length ? median(f) : NaN;
};
function fmt(x, unit) {
  if (!Number.isFinite(x)) return 'n/a';
  if (unit === 'GB/s') return x.toFixed(x < 1 ? 3 : 2);
  if (x >= 1e6) return (x / 1e6).toFixed(2) + 'M';
  if (x >= 1e3) return (x / 1e3).toFixed(1) + 'k';
  return x.toFixed(0);
}
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
const fmtRatio = (r) => (Number.isFinite(r) ? (r >= 10 ? r.toFixed(0) : r.toFixed(2)) + 'x' : '–');
const chunkName = (c) => (c === 65536 ? '64 KiB' : `${c} B`);

const OURS = 'fcgi-wasm';
const versions = Object.fromEntries(samples.map((s) => [s.codec, s.version]));
const out = [];
out.push(`# codec benchmark: ${ROUNDS} rounds x ${SAMPLES} samples x ${SAMPLE_MS} ms, each codec and chunk size in its own process`);
out.push(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? '?'}, load average ${load0.toFixed(2)} before / ${loadavg()[0].toFixed(2)} after, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
out.push(`versions: ${CODECS.map((c) => `${c} ${versions[c] ?? '?'}`).join(', ')}`);
out.push('cells: median of all samples; GB/s = 10^9 wire bytes (headers + content + padding) per second; memcpy parses nothing, so its cells are GB/s in every row');

for (const chunk of CHUNKS) {
  out.push('', `## ${chunkName(chunk)} chunks`, '');
  out.push(`| case | unit | ${CODECS.join(' | ')} | ours/walker | ours/fastcgi-stream | ours/memcpy |`);
  out.push(`| --- | --- |${CODECS.map(() => ' ---: |').join('')} ---: | ---: | ---: |`);
  for (const kase of CASES) {
    const cells = CODECS.map((c) => (failed.has(c) ? 'FAILED' : fmt(med(c, kase, chunk), c === 'memcpy' ? 'GB/s' : UNIT[kase])));
    const ours = med(OURS, kase, chunk);
    // ours/memcpy only where both are GB/s; for small and params a bytes/s comparison says little
    const mem = kase === 'large' ? fmtRatio(ratio(ours, med('memcpy', kase, chunk))) : '–';
    out.push(`| ${kase} | ${UNIT[kase]} | ${cells.join(' | ')} | ${fmtRatio(ratio(ours, med('walker', kase, chunk)))} | ${fmtRatio(ratio(ours, med('fastcgi-stream', kase, chunk)))} | ${mem} |`);
  }
  // the spread says how far to trust a ratio: [min..max] of every sample of the two codecs the bars use
  const spread = (c) => CASES.map((k) => {
    const f = figures(c, k, chunk);
    return `${k} ${fmt(Math.min(...f), UNIT[k])}..${fmt(Math.max(...f), UNIT[k])}`;
  }).join(', ');
  out.push('', `spread [min..max]: ${OURS}: ${spread(OURS)}; walker: ${spread('walker')}`);
}

// ---- bars
const bars = [];
const bar = (what, chunk, got, need) => bars.push({ what, chunk, got, need });
// issue 15: every case at least the walker's at both chunk sizes; small records at least 50x fastcgi-stream
for (const chunk of CHUNKS) {
  const r = (k, peer) => ratio(med(OURS, k, chunk), med(peer, k, chunk));
  for (const k of CASES) bar(`${k}: ours/walker`, chunk, r(k, 'walker'), 1.0);
  if (CASES.includes('small')) bar('small: ours/fastcgi-stream', chunk, r('small', 'fastcgi-stream'), 50);
}
out.push('', '## bars', '', '| bar | chunks | measured | needed | |', '| --- | --- | ---: | ---: | --- |');
for (const b of bars) {
  const verdict = !Number.isFinite(b.got) ? 'n/a' : b.got >= b.need ? 'PASS' : 'MISS';
  out.push(`| ${b.what} | ${chunkName(b.chunk)} | ${fmtRatio(b.got)} | >= ${b.need}x | ${verdict} |`);
}
console.log(out.join('\n'));
if (failed.size) process.exit(1);
