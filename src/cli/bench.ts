// `fcgi bench`: a load generator that speaks FastCGI straight to an app (no web server in the way):
// requests/s, bytes/s, errors by kind, latency percentiles and a histogram; --json for CI.

import { count, duration, flag, one, parseArgs, UsageError } from './args.js';
import { bodyFrom } from './body-source.js';
import { buildParams } from './request.js';
import { runLoad, type LoadResult } from './load.js';
import { drawHistogram, formatMs, histogram, summarize } from './latency.js';
import { styleFor } from './style.js';

export const BENCH_USAGE = `usage: fcgi bench ADDR [-c CONNS] [-d DURATION] [-n COUNT] [options]

Sends requests to the FastCGI app at ADDR (host:port, [v6]:port or a Unix socket path) from CONNS
connections, each one request at a time (like wrk), for DURATION or COUNT requests, whichever ends
first, and reports requests/s, CGI response bytes/s, errors by kind, latency percentiles and a
histogram. Latency runs from writing the request (from connecting, with --no-keep-alive) to its
END_REQUEST.

  -c, --connections N   connections (default 16)
  -d, --duration T      how long to send: 10s, 500ms, 2m; a bare number is seconds (default 10s)
  -n, --requests N      stop after N requests (with no -d: no time limit)
  --path P              the request's PATH[?QUERY] (default /)
  --param K=V           add or override a CGI param; repeatable (--method, --header, --root, --script
                        as in fcgi request)
  --data @FILE|TEXT     the request body (POST by default)
  --keep-alive          keep connections open between requests, FCGI_KEEP_CONN (default)
  --no-keep-alive       a new connection per request
  --timeout MS          a request unanswered this long counts as a timeout error (default 10000)
  --json                print the results as JSON (for CI)

A progress line goes to stderr when it is a terminal. A process-per-connection app (fcgi2, php-fpm)
needs at least CONNS workers with keep-alive: each worker stays on its connection.
exit status: 0 when every request completed, 1 when some failed, 2 bad usage.`;

export async function bench(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    booleans: ['keep-alive', 'json'],
    aliases: { c: 'connections', d: 'duration', n: 'requests' },
    known: ['connections', 'duration', 'requests', 'path', 'param', 'data', 'timeout', 'method', 'header', 'root', 'script'],
  });
  const address = args.positional[0];
  if (args.positional.length !== 1 || !address) throw new UsageError('give one ADDR (host:port or a Unix socket path)');
  const requests = count(args, 'requests', 0, 1);
  const durationMs = one(args, 'duration') === undefined && requests > 0 ? 0 : duration(args, 'duration', 10_000, 's');
  if (durationMs === 0 && requests === 0) throw new UsageError('give -d DURATION or -n COUNT');
  const connections = count(args, 'connections', 16, 1);
  const data = one(args, 'data');
  if (data === '-') throw new UsageError('--data for bench is @FILE or TEXT (it is sent many times)');
  const body = data === undefined ? new Uint8Array(0) : bodyFrom(data, '--data');
  const path = one(args, 'path') ?? '/';
  const params = buildParams(args, path, data === undefined ? undefined : body);
  const keepAlive = flag(args, 'keep-alive', true);
  const json = flag(args, 'json');
  const err = styleFor(process.stderr);
  const showProgress = process.stderr.isTTY === true && !json;

  const cpuBefore = process.cpuUsage();
  const result = await runLoad({
    address,
    connections,
    durationMs,
    requests,
    params,
    body,
    keepAlive,
    timeoutMs: count(args, 'timeout', 10_000, 1),
    progress: showProgress
      ? (r) => {
          const failed = errorCount(r);
          process.stderr.write(`\r\x1b[K${err.dim(`${(r.elapsedMs / 1000).toFixed(1)}s`)}  ${r.completed} requests  ${Math.round((r.completed * 1000) / r.elapsedMs)} req/s  ${failed ? err.red(`${failed} errors`) : '0 errors'}`);
        }
      : undefined,
  });
  if (showProgress) process.stderr.write('\r\x1b[K');

  const cpu = process.cpuUsage(cpuBefore);
  const report = reportOf(result, { address, path, connections, keepAlive, durationMs, requests });
  // how busy this process was: near a whole core, the figure may be the generator's limit, not the app's
  report.generatorCpuPercent = result.elapsedMs > 0 ? Math.round(((cpu.user + cpu.system) / 1000 / result.elapsedMs) * 100) : 0;
  if (json) console.log(JSON.stringify(report, null, 2));
  else printReport(report);
  return report.errorCount > 0 ? 1 : 0;
}

function errorCount(r: LoadResult): number {
  return Object.values(r.errors).reduce((s, n) => s + (n ?? 0), 0);
}

type Report = ReturnType<typeof reportOf>;

function reportOf(r: LoadResult, setup: { address: string; path: string; connections: number; keepAlive: boolean; durationMs: number; requests: number }) {
  const latency = summarize(r.latencies);
  const seconds = r.elapsedMs / 1000;
  const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    ...setup,
    elapsedMs: round(r.elapsedMs, 1),
    completed: r.completed,
    errorCount: errorCount(r),
    errors: r.errors,
    statuses: r.statuses,
    appStatusNonZero: r.appStatusNonZero,
    requestsPerSec: round(seconds > 0 ? r.completed / seconds : 0, 1),
    stdoutBytes: r.stdoutBytes,
    bytesPerSec: Math.round(seconds > 0 ? r.stdoutBytes / seconds : 0),
    latencyMs: { min: round(latency.min), mean: round(latency.mean), p50: round(latency.p50), p90: round(latency.p90), p99: round(latency.p99), max: round(latency.max) },
    /** CPU time this process used during the run, as a share of one core. */
    generatorCpuPercent: 0,
    histogram: histogram(r.latencies).map((b) => ({ fromMs: round(b.fromMs), toMs: round(b.toMs), count: b.count })),
  };
}

function bytes(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

function printReport(r: Report): void {
  const s = styleFor(process.stdout);
  const limit = [r.durationMs ? `${r.durationMs / 1000} s` : '', r.requests ? `${r.requests} requests` : ''].filter(Boolean).join(' or ');
  console.log(`${s.bold('fcgi bench')} ${r.address} ${r.path}: ${r.connections} connection(s), ${r.keepAlive ? 'keep-alive' : 'a connection per request'}, ${limit}`);
  console.log(`  requests   ${s.bold(String(r.completed))} in ${(r.elapsedMs / 1000).toFixed(2)} s = ${s.bold(`${r.requestsPerSec} req/s`)}`);
  console.log(`  transfer   ${bytes(r.stdoutBytes)} of CGI response = ${bytes(r.bytesPerSec)}/s`);
  const l = r.latencyMs;
  console.log(`  latency    p50 ${formatMs(l.p50)}  p90 ${formatMs(l.p90)}  p99 ${formatMs(l.p99)}  max ${formatMs(l.max)}  ${s.dim(`(min ${formatMs(l.min)}, mean ${formatMs(l.mean)})`)}`);
  console.log(`  statuses   ${Object.entries(r.statuses).map(([code, n]) => `${Number(code) >= 400 ? s.yellow(code) : code}: ${n}`).join('  ') || '-'}${r.appStatusNonZero ? `  (appStatus != 0: ${r.appStatusNonZero})` : ''}`);
  const errs = Object.entries(r.errors).map(([k, n]) => `${k}: ${n}`).join('  ');
  console.log(`  errors     ${r.errorCount ? s.red(`${r.errorCount} (${errs})`) : '0'}`);
  const busy = r.generatorCpuPercent >= 90;
  console.log(`  generator  ${busy ? s.yellow(`${r.generatorCpuPercent}% of a core: the load generator may be the limit here, not the app`) : `${r.generatorCpuPercent}% of a core`}`);
  if (r.histogram.length > 0) {
    console.log('  latency histogram');
    for (const line of drawHistogram(r.histogram)) console.log(`  ${line}`);
  }
}
