// `fcgi bench` with bounded counts: its numbers must add up. Every completed request is one the app
// saw; completed + failed = the requests asked for; the histogram holds every sample; the bytes are the
// responses' bytes; errors are sorted by kind. No assertion on speed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type FcgiServer } from '../../src/server/index.js';
import { startFcgi2App } from '../peers/fcgi2-app.js';
import { startPhpFpm, type PhpFpm } from '../peers/php-fpm.js';
import { freePort } from '../peers/ports.js';
import { fileURLToPath } from 'node:url';
import { fcgi } from './run-cli.js';

const PHP_ROOT = fileURLToPath(new URL('../fixtures/php', import.meta.url));
const HELLO = 'Content-Type: text/plain\r\n\r\nhello\n'; // what the fcgi2 app answers on STDOUT

interface Report {
  completed: number;
  errorCount: number;
  errors: Record<string, number>;
  statuses: Record<string, number>;
  stdoutBytes: number;
  resent: number;
  requestsPerSec: number;
  elapsedMs: number;
  latencyMs: { min: number; mean: number; p50: number; p90: number; p99: number; max: number };
  histogram: { fromMs: number; toMs: number; count: number }[];
}

async function bench(args: string[]): Promise<{ code: number | null; report: Report; out: string }> {
  const r = await fcgi(['bench', ...args, '--json'], { timeout: 30_000 });
  return { code: r.code, report: JSON.parse(r.out) as Report, out: r.out };
}

/** What every report must satisfy, whatever the app. */
function consistent(r: Report): void {
  expect(r.histogram.reduce((s, b) => s + b.count, 0)).toBe(r.completed);
  expect(Object.values(r.statuses).reduce((s, n) => s + n, 0)).toBe(r.completed);
  expect(Object.values(r.errors).reduce((s, n) => s + n, 0)).toBe(r.errorCount);
  const l = r.latencyMs;
  expect(l.min).toBeLessThanOrEqual(l.p50);
  expect(l.p50).toBeLessThanOrEqual(l.p90);
  expect(l.p90).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.max);
  expect(l.mean).toBeGreaterThanOrEqual(l.min);
  expect(l.mean).toBeLessThanOrEqual(l.max);
  // elapsedMs is rounded in the report: agree within 2%
  const rate = r.completed / (r.elapsedMs / 1000);
  expect(Math.abs(r.requestsPerSec - rate)).toBeLessThanOrEqual(rate * 0.02 + 0.1);
}

let ours: FcgiServer;
/** Requests to /hold wait here until released. */
const holding: (() => void)[] = [];
let oursAddr: string;
let php: PhpFpm;

beforeAll(async () => {
  php = await startPhpFpm({ children: 2 });
  const port = await freePort();
  ours = createServer({ handleSignals: false, maxConnections: 2, log: () => {} }, (req, res) => {
    if (req.url?.startsWith('/hold')) return void holding.push(() => res.end('held\n'));
    if (req.url?.startsWith('/missing')) res.statusCode = 404;
    res.end('hello from ours\n');
  });
  await new Promise((r) => ours.listen(port, () => r(null)));
  oursAddr = `127.0.0.1:${port}`;
}, 30_000);

afterAll(async () => {
  await Promise.all([php?.stop(), new Promise((r) => ours?.close(r))]);
});

describe('fcgi bench', () => {
  it('against our server: completed = the requests the app saw, bytes = their responses', async () => {
    const before = ours.requestsServed;
    const { code, report } = await bench([oursAddr, '-c', '2', '-n', '300', '--path', '/hello']);
    expect(code).toBe(0);
    expect(report.completed).toBe(300);
    expect(report.errorCount).toBe(0);
    expect(ours.requestsServed - before).toBe(300);
    expect(report.statuses).toEqual({ 200: 300 });
    consistent(report);
    // each reply is the same CGI response: a 200 with its headers and 'hello from ours\n'
    const one = await fcgi(['request', '--connect', oursAddr, '/hello']);
    expect(report.stdoutBytes).toBe(300 * one.stdout.length);
  });

  it('counts statuses the app sent, and errors by kind (OVERLOADED past its connection limit)', async () => {
    const missing = await bench([oursAddr, '-c', '2', '-n', '50', '--path', '/missing']);
    expect(missing.code).toBe(0);
    expect(missing.report.statuses).toEqual({ 404: 50 });
    // the app takes 2 connections; while both carry a request, a third gets FCGI_OVERLOADED for each
    // request (an idle one would have given it its place)
    const held = [1, 2].map(() => fcgi(['request', '--connect', oursAddr, '/hold']));
    for (let i = 0; i < 100 && holding.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    const before = ours.requestsServed;
    const over = await bench([oursAddr, '-c', '1', '-n', '200', '--path', '/hello']);
    holding.splice(0).forEach((release) => release());
    await Promise.all(held);
    expect(over.code).toBe(1);
    expect(over.report.errors.overloaded).toBe(200);
    expect(over.report.completed + over.report.errorCount).toBe(200);
    expect(ours.requestsServed - before).toBe(over.report.completed);
    consistent(over.report);
  });

  it('against the fcgi2 C app: exactly the requests it served before exiting (APP_EXIT_AFTER), with and without keep-alive', async () => {
    for (const keep of ['--keep-alive', '--no-keep-alive']) {
      const app = await startFcgi2App({ env: { APP_EXIT_AFTER: '150' } });
      try {
        // one process serves one connection at a time: one connection with keep-alive, several without
        const { code, report } = await bench([app.address, '-c', keep === '--keep-alive' ? '1' : '3', '-n', '150', keep]);
        expect(code).toBe(0);
        expect(report.completed).toBe(150);
        expect(report.stdoutBytes).toBe(150 * HELLO.length);
        consistent(report);
        // the app has exited after its 150th request: the bench sent no request beyond its count
        const after = await fcgi(['request', '--connect', app.address, '/']);
        expect(after.code).toBe(69);
      } finally {
        await app.stop();
      }
    }
  });

  it('against php-fpm, with a duration bound', async () => {
    const { code, report } = await bench([php.address, '-c', '2', '-d', '600ms', '--root', PHP_ROOT, '--path', '/index.php']);
    expect(code).toBe(0);
    expect(report.completed).toBeGreaterThan(0);
    expect(report.errorCount).toBe(0);
    expect(report.elapsedMs).toBeGreaterThanOrEqual(600);
    consistent(report);
  });

  it("sends a request again when php-fpm closed the kept connection before reading it (pm.max_requests), not an error", async () => {
    const recycling = await startPhpFpm({ children: 1, maxRequests: 5 });
    try {
      const { code, report } = await bench([recycling.address, '-c', '1', '-n', '40', '--root', PHP_ROOT, '--path', '/index.php']);
      expect(code).toBe(0);
      expect(report).toMatchObject({ completed: 40, errorCount: 0 });
      expect(report.resent).toBeGreaterThan(0);
      consistent(report);
    } finally {
      await recycling.stop();
    }
  });

  it('reports connection failures as errors; the text report; bad usage', async () => {
    const nobody = await bench([`127.0.0.1:${await freePort()}`, '-c', '2', '-n', '20']);
    expect(nobody.code).toBe(1);
    expect(nobody.report).toMatchObject({ completed: 0, errorCount: 20, errors: { connect: 20 } });
    const text = await fcgi(['bench', oursAddr, '-c', '1', '-n', '40']);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/requests\s+40 in/);
    expect(text.out).toMatch(/latency\s+p50 .* p90 .* p99 .* max /);
    expect(text.out).toContain('latency histogram');
    expect(text.out).not.toContain('\x1b['); // no colour when not a terminal
    const badDuration = await fcgi(['bench', oursAddr, '-d', 'soon']);
    expect(badDuration.code).toBe(2);
    expect(badDuration.err).toContain('--duration takes a duration');
    expect((await fcgi(['bench', oursAddr, '-x', '1'])).code).toBe(2);
    expect((await fcgi(['bench', oursAddr, '-n', '0'])).code).toBe(2);
  });
});
