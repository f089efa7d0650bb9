// `fcgi conform --listen` behind a real nginx: what nginx 1.22 sends, read by the tool acting as the
// app. One PARAMS record per request, request id 1 always, no multiplexing, STDIN in 32 KiB records
// (vector X02), KEEP_CONN only with fastcgi_keep_conn, the 130-byte param name written with a one-byte
// length flagged (N09), an aborted browser request closing the connection (no ABORT_REQUEST), and an
// unsolicited FCGI_UNKNOWN_TYPE or FCGI_GET_VALUES_RESULT answered by closing the connection (a 502).
// And behind `fcgi conform` itself, whose probes send what nginx never does: a split pair, four-byte
// lengths, two requests at once, ABORT_REQUEST.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Observed, ListenSummary } from '../../src/cli/conform/listen-report.js';
import { startNginx, type Nginx } from '../peers/nginx.js';
import { freePort, waitForPort } from '../peers/ports.js';
import { CLI, fcgi } from './run-cli.js';
import { saveReport } from './conform-helpers.js';

const LONG_NAME = 'N'.repeat(130);
const REQUESTS = 7;

let nginx: Nginx;
let lines: Promise<string[]>;
let exitCode: Promise<number | null>;

beforeAll(async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'conform', '--listen', `127.0.0.1:${port}`, '--requests', String(REQUESTS), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
  exitCode = new Promise((resolve) => child.once('close', (code) => (clearTimeout(timer), resolve(code))));
  lines = exitCode.then(() => Buffer.concat(out).toString('utf8').trim().split('\n'));
  await waitForPort(port, child, 'fcgi conform --listen');
  nginx = await startNginx(
    `location /long { include /etc/nginx/fastcgi_params; fastcgi_param ${LONG_NAME} v; fastcgi_pass 127.0.0.1:${port}; }
    location /kept { fastcgi_keep_conn on; fastcgi_pass kept; }
    location / { fastcgi_pass 127.0.0.1:${port}; }`,
    `upstream kept { server 127.0.0.1:${port}; keepalive 4; }`,
  );
}, 30_000);

afterAll(async () => {
  await nginx?.stop();
});

describe('fcgi conform --listen behind nginx', () => {
  it('reports how nginx frames its requests, and answers each with that report', async () => {
    const get = (path: string, init?: RequestInit) => fetch(nginx.url(path), init);
    const plain = await get('/plain?x=1');
    expect(plain.status).toBe(200);
    expect(await plain.text()).toMatch(/^connection \d+, request 1 on it: request id 1, RESPONDER, flags 0x00/);
    const long = await get('/long');
    expect(await long.text()).toMatch(/finding ONE_BYTE_LONG_LENGTH: a 130-byte name written with a one-byte length \(0x82\)/);
    expect((await get('/kept', { method: 'POST', body: new Uint8Array(100_000) })).status).toBe(200);
    expect((await get('/kept')).status).toBe(200);
    expect((await get('/plain?fcgi-conform=unknown-type')).status).toBe(502);
    expect((await get('/plain?fcgi-conform=values-result')).status).toBe(502);
    const browser = new AbortController();
    setTimeout(() => browser.abort(), 300);
    await expect(get('/plain?fcgi-conform=slow', { signal: browser.signal })).rejects.toThrow();

    expect(await exitCode).toBe(0);
    const parsed = (await lines).map((l) => JSON.parse(l) as { request?: Observed; summary?: ListenSummary });
    const requests = parsed.flatMap((p) => (p.request ? [p.request] : []));
    const byPath = (path: string) => requests.find((r) => r.pairs.some(([n, v]) => n === 'REQUEST_URI' && v === path))!;

    const first = byPath('/plain?x=1');
    expect([first.requestId, first.params.records, first.pairSplit, first.keepConn, first.concurrent, first.params.ended, first.stdin.ended]).toEqual([1, 1, false, false, 1, true, true]);
    expect(first.findings).toEqual([]);

    const flagged = requests.find((r) => r.error !== undefined)!;
    expect(flagged.findings.map((f) => f.code)).toEqual(['ONE_BYTE_LONG_LENGTH']);

    const [upload, again] = requests.filter((r) => r.pairs.some(([n, v]) => n === 'REQUEST_URI' && v === '/kept')) as [Observed, Observed];
    expect(upload.stdin).toEqual({ records: 4, bytes: 100_000, lengths: [32768, 32768, 32768, 1696], ended: true });
    expect([upload.keepConn, again.keepConn, again.connection, again.nth]).toEqual([true, true, upload.connection, 2]);

    expect(byPath('/plain?fcgi-conform=unknown-type').reaction).toMatch(/FCGI_UNKNOWN_TYPE: the web server closed the connection/);
    expect(byPath('/plain?fcgi-conform=values-result').reaction).toMatch(/FCGI_GET_VALUES_RESULT: the web server closed the connection/);
    expect(byPath('/plain?fcgi-conform=slow').aborted).toBe('closed');

    const summary = parsed.at(-1)!.summary!;
    saveReport('nginx', JSON.stringify(summary));
    expect(summary).toMatchObject({ requests: REQUESTS, requestIds: [1], maxConcurrent: 1, pairSplits: 0, nonMinimalLengths: 0, unendedStreams: 0 });
    expect(summary.paramsRecords).toEqual({ min: 1, max: 1 });
    expect(summary.aborts).toEqual({ abortRequest: 0, closed: 1 });
    expect(summary.findings).toEqual({ ONE_BYTE_LONG_LENGTH: 1 });
  });
});

describe('fcgi conform --listen against fcgi conform', () => {
  it('sees the framings the probes send: a split pair, four-byte lengths, two requests at once, an abort', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'fcgi-wasm-listen-')), 'app.sock');
    const child = spawn(process.execPath, [CLI, 'conform', '--listen', path, '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    const closed = new Promise((resolve) => child.once('close', resolve));
    try {
      await waitForPort(path, child, 'fcgi conform --listen');
      const probed = await fcgi(['conform', path, '--only', 'four-byte-lengths,split-pair,multiplex,abort']);
      expect(probed.code).toBe(0); // the listening tool is a conforming app
      child.kill('SIGTERM'); // it prints the summary and exits
      await closed;
      const summary = (JSON.parse(Buffer.concat(out).toString('utf8').trim().split('\n').at(-1)!) as { summary: ListenSummary }).summary;
      const params = Object.keys(JSON.parse((await fcgi(['request', '--dry-run', '--json', '/'])).out) as object).length;
      expect(summary).toMatchObject({ requests: 5, pairSplits: 1, maxConcurrent: 2, nonMinimalLengths: 2 * params, aborts: { abortRequest: 1, closed: 0 } });
      expect(summary.findings).toEqual({ PAIR_SPLIT: 2 });
    } finally {
      child.kill();
      rmSync(dirname(path), { recursive: true, force: true });
    }
  });
});
