// The process manager's restarts, per app (ours, fcgi2's C app, php-cgi, a Perl FCGI script):
// - restart latency after kill -9: one process, killed; a request sent right after the kill waits in the
//   kernel's accept queue until the replacement answers; the time from the kill to that answer (median
//   of --runs, default 20). php-fpm's master replacing a killed worker is measured the same way.
// - rolling-restart gap: 2 processes under load (8 concurrent request loops, straight to the socket),
//   a rolling restart (what SIGHUP does) in the middle; requests refused (ECONNREFUSED) and failed.
// usage: node bench/manager/run.mjs [--runs 20]   (after npm run build; needs php-cgi, php-fpm,
// libfcgi-dev + gcc, libfcgi-perl, libfcgi-bin's cgi-fcgi). Everything runs in a temp dir on Unix sockets or 127.0.0.1, stopped by pid.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Manager } from '../../dist/manager/index.js';
import { Client } from '../../dist/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 20;
const dir = mkdtempSync(join(tmpdir(), 'fcgi-manager-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const cApp = join(dir, 'fcgi2-app');
execFileSync('cc', ['-O2', '-o', cApp, join(ROOT, 'test/fixtures/c/app.c'), '-lfcgi']);
const PID_PHP = join(ROOT, 'test/fixtures/manager/pid.php');
const apps = [
  { name: 'fcgi-wasm app', command: process.execPath, args: [join(ROOT, 'test/fixtures/apps/app.mjs')], env: [], path: '/' },
  { name: 'fcgi2 C app', command: cApp, args: [], env: [], path: '/pid' },
  { name: 'php-cgi', command: 'php-cgi', args: [], env: ['PHP_FCGI_CHILDREN=0'], path: '/pid.php', script: PID_PHP },
  { name: 'Perl FCGI', command: 'perl', args: [join(ROOT, 'test/fixtures/manager/app.pl')], env: [], path: '/pid' },
];

/**
 * One request on a fresh connection, by fcgi2's cgi-fcgi (a process start, a few ms, the same for every
 * app): a fresh Client first opens a GET_VALUES probe connection (held up to probeTimeout, 1 s), and a
 * one-process fcgi2 app, which never answers it, serves the request's connection only after that.
 */
function ask(address, app) {
  return new Promise((resolve, reject) => {
    const env = { REQUEST_METHOD: 'GET', SCRIPT_NAME: app.path, REQUEST_URI: app.path, SCRIPT_FILENAME: app.script ?? join(dir, app.path), REDIRECT_STATUS: '200' };
    execFile('cgi-fcgi', ['-bind', '-connect', address], { env, timeout: 20_000 }, (err, stdout) => {
      if (err) reject(err);
      else if (/^Status: [^2]/m.test(stdout)) reject(new Error(stdout.slice(0, 200)));
      else resolve();
    });
  });
}

async function restartLatency(address, victimPid) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const pid = await victimPid();
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    await ask(address.address, address.app);
    times.push(performance.now() - t0);
    await sleep(150);
  }
  return median(times);
}

async function rollingGap(address, app, restart) {
  const client = new Client({ address });
  let ok = 0;
  let refused = 0;
  let failed = 0;
  const deadline = Date.now() + 3000;
  const loop = async () => {
    while (Date.now() < deadline) {
      try {
        const res = await client.fetch(`http://bench${app.path}`, { documentRoot: dir, params: app.script ? { SCRIPT_FILENAME: app.script } : {} });
        await res.text();
        if (res.status === 200) ok++;
        else failed++;
      } catch (e) {
        if (String(e?.code ?? e?.cause?.code ?? e).includes('ECONNREFUSED')) refused++;
        else failed++;
      }
    }
  };
  await Promise.all([...Array.from({ length: 8 }, loop), sleep(1000).then(restart)]);
  client.close();
  return { ok, refused, failed };
}

const rows = [];
for (const app of apps) {
  const socket = join(dir, `${app.command.split('/').at(-1)}.sock`);
  const one = new Manager({ command: app.command, args: app.args, env: app.env, socket, processes: 1, restartDelay: 0, minLifetime: 0 });
  await one.start();
  await ask(socket, app);
  const latency = await restartLatency({ address: socket, app }, async () => {
    for (let i = 0; i < 100 && one.running !== 1; i++) await sleep(10);
    return one.processes[0].pid;
  });
  await one.stop();
  const two = new Manager({ command: app.command, args: app.args, env: app.env, socket, processes: 2, restartDelay: 0 });
  await two.start();
  await ask(socket, app);
  const gap = await rollingGap(socket, app, () => two.rollingRestart());
  await two.stop();
  rows.push({ app: app.name, latency, ...gap });
  console.error(`${app.name}: done`);
}

// php-fpm's own master replacing a killed worker (pm = static, 1 child), for comparison
const fpmBinary = ['/usr/sbin/php-fpm8.2', '/usr/sbin/php-fpm8.3', '/usr/sbin/php-fpm'].find((p) => existsSync(p));
if (fpmBinary) {
  const fpmSocket = join(dir, 'php-fpm.sock');
  writeFileSync(join(dir, 'php-fpm.conf'), `[global]\npid = ${dir}/php-fpm.pid\nerror_log = ${dir}/php-fpm.log\ndaemonize = no\n[bench]\nlisten = ${fpmSocket}\npm = static\npm.max_children = 1\n`);
  const fpm = spawn(fpmBinary, ['-F', '-R', '-y', join(dir, 'php-fpm.conf'), '-p', dir], { stdio: 'ignore' });
  const php = apps[2];
  for (let i = 0; i < 100 && !existsSync(fpmSocket); i++) await sleep(50);
  await ask(fpmSocket, php);
  const worker = async () => {
    for (let i = 0; i < 200; i++) {
      const kids = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
        try {
          return readFileSync(`/proc/${p}/stat`, 'latin1').split(') ')[1].split(' ')[1] === String(fpm.pid);
        } catch {
          return false;
        }
      });
      if (kids.length === 1) return Number(kids[0]);
      await sleep(10);
    }
    throw new Error('php-fpm has no worker');
  };
  const latency = await restartLatency({ address: fpmSocket, app: php }, worker);
  fpm.kill('SIGTERM');
  rows.push({ app: 'php-fpm (its own master)', latency, ok: '-', refused: '-', failed: '-' });
}

const base = rows.find((r) => r.app === 'php-fpm (its own master)')?.latency;
console.log(`\nrestart after kill -9 (median of ${RUNS}, kill -> the replacement answers) and rolling restart under load (8 loops, 3 s)\n`);
console.log('| app | restart latency ms | vs php-fpm | rolling: ok | refused | failed |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.app} | ${r.latency.toFixed(1)} | ${base ? (r.latency / base).toFixed(2) + 'x' : '-'} | ${r.ok} | ${r.refused} | ${r.failed} |`);
process.exit(0);
