// The peers harness's codec results (results.jsonl of ../shared/peers/run-peers.sh) as one table per
// chunk size, with our ratios to the walker and to fastcgi-stream: the harness's own table puts every
// chunk size of CODEC_CHUNKS into one median.
// usage: node bench/codec/peers-table.mjs RESULTS.jsonl [OURS=fcgi-wasm]
import { readFileSync } from 'node:fs';

const [file, ours = 'fcgi-wasm'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/codec/peers-table.mjs RESULTS.jsonl [OURS]');
  process.exit(2);
}
const rows = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.kind === 'codec');
const CASES = [['small', 'rec_per_s', 'rec/s'], ['large', 'mb_per_s', 'MB/s'], ['params', 'req_per_s', 'req/s']];
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const fmt = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e4 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));
const of = (adapter, chunk, kase, field) => rows.filter((r) => r.adapter === adapter && r.chunk === chunk && r.case === kase).map((r) => r[field]).filter((x) => x != null);
const adapters = [...new Set(rows.map((r) => r.adapter))];
for (const chunk of [...new Set(rows.map((r) => r.chunk))].sort((a, b) => b - a)) {
  console.log(`\n${chunk} B chunks: median [min..max] of ${of(ours, chunk, 'small', 'rec_per_s').length} samples`);
  console.log(`| parser | ${CASES.map(([c, , u]) => `${c} (${u})`).join(' | ')} |`);
  console.log(`| --- |${CASES.map(() => ' ---: |').join('')}`);
  for (const a of adapters) {
    const cells = CASES.map(([c, f]) => {
      const v = of(a, chunk, c, f);
      return v.length ? `${fmt(median(v))} [${fmt(Math.min(...v))}..${fmt(Math.max(...v))}]` : '-';
    });
    console.log(`| ${a} | ${cells.join(' | ')} |`);
  }
  const ratio = (peer, c, f) => median(of(ours, chunk, c, f)) / median(of(peer, chunk, c, f));
  console.log(`| ${ours}/anchor-js-walk | ${CASES.map(([c, f]) => `${ratio('anchor-js-walk', c, f).toFixed(2)}x`).join(' | ')} |`);
  console.log(`| ${ours}/fastcgi-stream | ${CASES.map(([c, f]) => `${ratio('fastcgi-stream', c, f).toFixed(0)}x`).join(' | ')} |`);
}
