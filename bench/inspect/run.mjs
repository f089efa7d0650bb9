// The inspector benchmark: a ~100 MB pcap of real loopback FastCGI traffic (our Client -> our app, 8
// pooled keep-alive connections, small responses with a 64 KiB one every 32 requests), captured by
// tcpdump, then decoded by the library (inspect() one shot, Inspector fed 1 MiB slices), by
// `fcgi inspect` (text, --summary, --json) and by `tshark -r FILE -d tcp.port==PORT,fcgi`, all on the
// same file. Prints MB/s and requests/s of each and its ratio to tshark, from CPU time (user + system:
// on a shared machine wall time mostly measures the other tenants) with the wall time beside. Never asserts.
// usage: node bench/inspect/run.mjs [--mb 100] [--fresh] [--runs 2] [--file build/bench-inspect.pcap]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';

const argv = process.argv.slice(2);
const opt = (k, d) => {
  const i = argv.indexOf('--' + k);
  return i >= 0 ? argv[i + 1] : d;
};
const TARGET_MB = +opt('mb', 100);
const RUNS = +opt('runs', 2);
const FILE = opt('file', fileURLToPath(new URL('../../build/bench-inspect.pcap', import.meta.url)));
const META = FILE + '.json';
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dist = (p) => new URL(`../../dist/${p}`, import.meta.url).href;
if (!existsSync(CLI)) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(2);
}

// ---- the capture: made once, reused unless --fresh
if (argv.includes('--fresh') || !existsSync(FILE) || !existsSync(META)) await makeCapture();
const { port } = JSON.parse(readFileSync(META, 'utf8'));
const bytes = statSync(FILE).size;
const MB = bytes / 1e6;

async function makeCapture() {
  const { createServer, Client } = await import(dist('index.js'));
  mkdirSync(dirname(FILE), { recursive: true });
  const big = Buffer.alloc(64 * 1024, 0x62);
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('Content-Type', 'text/plain');
      if (req.url.startsWith('/big')) res.end(big);
      else res.end(`hello ${req.url} ${Buffer.concat(chunks).length}`);
    });
  });
  await new Promise((r) => server.listen({ port: 0, host: '127.0.0.1' }, r));
  const p = server.address().port;
  const dump = spawn('tcpdump', ['-i', 'lo', '-U', '--immediate-mode', '-B', '65536', '-Z', 'root', '-w', FILE, `tcp port ${p}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const dumpExit = new Promise((r) => dump.once('exit', r));
  await new Promise((resolve, reject) => {
    let err = '';
    dump.stderr.on('data', (d) => (err += d) && err.includes('listening on') && resolve());
    dump.once('exit', (c) => reject(new Error(`tcpdump exited ${c}: ${err}`)));
  });
  const client = new Client({ address: `127.0.0.1:${p}`, maxConnections: 8 });
  let n = 0;
  const deadline = Date.now() + 120_000;
  const worker = async () => {
    while (Date.now() < deadline && size() < TARGET_MB * 1e6) {
      const i = n++;
      const uri = i % 32 === 31 ? `/big/${i}` : `/small/${i}?q=${i}`;
      const body = i % 5 === 0 ? Buffer.alloc(200, 0x70) : undefined;
      await client.call({ params: { REQUEST_METHOD: body ? 'POST' : 'GET', REQUEST_URI: uri, SCRIPT_NAME: uri.split('?')[0], QUERY_STRING: `q=${i}`, SERVER_NAME: 'bench.test', SERVER_PORT: '80', REMOTE_ADDR: '127.0.0.1', HTTP_HOST: 'bench.test', HTTP_USER_AGENT: 'fcgi-wasm-bench', HTTP_ACCEPT: '*/*', CONTENT_LENGTH: body ? '200' : '' }, body });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  client.close();
  await new Promise((r) => setTimeout(r, 500));
  dump.kill('SIGINT');
  await dumpExit;
  await new Promise((r) => server.close(r));
  writeFileSync(META, JSON.stringify({ port: p, requests: n }));
  console.error(`captured ${n} requests, ${(size() / 1e6).toFixed(1)} MB in ${FILE}`);
}
function size() {
  return existsSync(FILE) ? statSync(FILE).size : 0;
}

// ---- measure
const rows = [];
const best = (fn) => {
  let out = null;
  for (let i = 0; i < RUNS; i++) {
    const r = fn();
    if (!out || r.secs < out.secs) out = r;
  }
  return out;
};
/** Runs fn in this process: wall and CPU seconds. */
const inProcess = (fn) => {
  const c = process.cpuUsage();
  const t = performance.now();
  const extra = fn();
  const used = process.cpuUsage(c);
  return { wall: (performance.now() - t) / 1000, secs: (used.user + used.system) / 1e6, ...extra };
};
/** Runs a command with GNU time: wall and CPU seconds (the child's). */
const child = (cmd, args) => {
  const timing = `${FILE}.time`;
  const out = openSync('/dev/null', 'w');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', '-o', timing, cmd, ...args], { stdio: ['ignore', out, 'ignore'] });
  closeSync(out);
  const [wall, user, sys] = readFileSync(timing, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  return { status: r.status, wall, secs: user + sys };
};
const { inspect, Inspector } = await import(dist('inspect/index.js'));
const file = readFileSync(FILE);
let requests = 0;
rows.push({ name: 'library inspect() one shot', ...best(() => inProcess(() => {
  const r = inspect(file);
  requests = r.stats.requests;
  return { requests: r.stats.requests };
})) });
rows.push({ name: 'library Inspector, 1 MiB slices, no record list', ...best(() => {
  const t = performance.now();
  let first = null;
  return inProcess(() => {
    const i = new Inspector({ records: false, onExchange: () => (first ??= performance.now() - t) });
    for (let at = 0; at < file.length; at += 1 << 20) i.push(file.subarray(at, at + (1 << 20)));
    const r = i.end();
    return { requests: r.stats.requests, note: `first exchange after ${first?.toFixed(1)} ms` };
  });
}) });
const cli = (args) => () => {
  const r = child(process.execPath, [CLI, 'inspect', FILE, ...args]);
  if (r.status !== 0 && r.status !== 1) throw new Error(`fcgi inspect ${args.join(' ')} exited ${r.status}`);
  return { ...r, requests };
};
rows.push({ name: '`fcgi inspect FILE` (text, every request in detail)', ...best(cli([])) });
rows.push({ name: '`fcgi inspect FILE --summary`', ...best(cli(['--summary'])) });
rows.push({ name: '`fcgi inspect FILE --json`', ...best(cli(['--json'])) });
const tshark = () => {
  const r = child('tshark', ['-r', FILE, '-d', `tcp.port==${port},fcgi`]);
  if (r.status !== 0) throw new Error(`tshark exited ${r.status}`);
  return { ...r, requests };
};
rows.push({ name: `\`tshark -r FILE -d tcp.port==${port},fcgi\``, ...tshark() });

// ---- report
const ref = rows.at(-1).secs;
console.log(`\nfcgi inspect benchmark: ${MB.toFixed(1)} MB pcap, ${requests} requests, ${cpus().length} cores, load ${loadavg()[0].toFixed(1)} (shared machine: figures are indicative)\n`);
console.log('| reader | CPU s | wall s | MB/s (CPU) | requests/s (CPU) | vs tshark |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(`| ${r.name} | ${r.secs.toFixed(2)} | ${r.wall.toFixed(2)} | ${(MB / r.secs).toFixed(0)} | ${Math.round(r.requests / r.secs)} | ${(ref / r.secs).toFixed(2)}x |${r.note ? ` ${r.note}` : ''}`);
}
