// Real traffic captured by tcpdump on loopback and decoded by src/inspect: nginx -> our app (IPv4 and
// IPv6, Ethernet framing), nginx -> php-fpm (Linux cooked SLL2), our Client -> php-fpm (SLL, and the
// same capture as pcapng). The requests and responses found must be the ones the test sent.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, Client, type FcgiServer } from '../../src/index.js';
import { inspect, Inspector, type Exchange, type InspectReport } from '../../src/inspect/index.js';
import { startNginx, type Nginx } from '../peers/nginx.js';
import { startPhpFpm, type PhpFpm } from '../peers/php-fpm.js';
import { startTcpdump } from './tcpdump.js';

const DOCROOT = fileURLToPath(new URL('../fixtures/php', import.meta.url)).replace(/\/$/, '');
const dir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-inspect-'));
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const BIG = 64 * 1024;

let nginx: Nginx;
let php: PhpFpm;
const servers: FcgiServer[] = [];
const portOf = (s: FcgiServer) => (s.address() as { port: number }).port;

function app(): FcgiServer {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.url!.includes('/big')) {
        res.setHeader('Content-Type', 'application/octet-stream');
        res.end(Buffer.alloc(BIG, 0x61));
        return;
      }
      if (req.url!.includes('/fail')) {
        req.fcgi.stderr.write('something broke\n');
        req.fcgi.appStatus = 3;
        res.statusCode = 503;
        res.end('down');
        return;
      }
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('X-Test', 'yes');
      res.end(`${req.method} ${req.url} ${body.length}`);
    });
  });
}

function listen(s: FcgiServer, host: string): Promise<void> {
  servers.push(s);
  return new Promise((r) => s.listen({ port: 0, host }, () => r()));
}

beforeAll(async () => {
  const v4 = app();
  const v6 = app();
  await listen(v4, '127.0.0.1');
  await listen(v6, '::1');
  php = await startPhpFpm({ children: 2 });
  nginx = await startNginx(
    `
    root ${DOCROOT};
    location /v4/ { fastcgi_pass app_v4; fastcgi_keep_conn on; }
    location /v6/ { fastcgi_pass [::1]:${portOf(v6)}; }
    location ~ \\.php$ { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name; fastcgi_pass ${php.address}; }
    `,
    `upstream app_v4 { server 127.0.0.1:${portOf(v4)}; keepalive 4; }`,
  );
});

afterAll(async () => {
  await nginx?.stop();
  await php?.stop();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

const param = (e: Exchange, name: string) => e.params.find(([n]) => n === name)?.[1];
const all = (r: InspectReport) => r.conversations.flatMap((c) => c.exchanges);
const linkType = (file: string) => readFileSync(file).readUInt32LE(20);
const errors = (r: InspectReport) => r.findings.filter((f) => f.severity === 'error');

describe('captures of real traffic', () => {
  it('nginx -> our app over IPv4 (kept connection) and IPv6: every request and response as sent', async () => {
    const file = join(dir, 'nginx-app.pcap');
    const ports = servers.map(portOf);
    const cap = await startTcpdump(file, `tcp port ${ports[0]} or tcp port ${ports[1]}`);
    const sent: { path: string; body?: string }[] = [
      { path: '/v4/hello?x=1' },
      { path: '/v4/post', body: 'p'.repeat(5000) },
      { path: '/v4/big' },
      { path: '/v4/fail' },
      { path: '/v6/hello?y=2' },
      { path: '/v6/post', body: 'q'.repeat(70000) },
    ];
    const replies: string[] = [];
    for (const s of sent) {
      const r = await fetch(nginx.url(s.path), s.body ? { method: 'POST', body: s.body } : {});
      replies.push(await r.text());
    }
    await cap.stop();
    const bytes = readFileSync(file);
    const report = inspect(bytes);
    expect(report.format).toBe('pcap');
    expect(linkType(file)).toBe(1); // LINKTYPE_ETHERNET: Linux loopback
    expect(errors(report)).toEqual([]);
    const got = all(report);
    expect(got.map((e) => param(e, 'REQUEST_URI'))).toEqual(sent.map((s) => s.path));
    for (const [i, s] of sent.entries()) {
      const e = got[i]!;
      expect(param(e, 'REQUEST_METHOD')).toBe(s.body ? 'POST' : 'GET');
      expect(e.stdin.bytes).toBe(s.body?.length ?? 0);
      expect(e.stdin.complete).toBe(true);
      if (s.body) expect(text(e.stdin.preview)).toBe(s.body.slice(0, 256));
      const r = e.response!;
      expect(r.headersComplete).toBe(true);
      expect(e.times.begin).toBeLessThanOrEqual(e.times.firstResponse!);
      expect(e.times.firstResponse).toBeLessThanOrEqual(e.times.end!);
      if (s.path.includes('/big')) {
        expect(r.body.bytes).toBe(BIG);
        expect(r.headers).toContainEqual(['Content-Type', 'application/octet-stream']);
      } else if (s.path.includes('/fail')) {
        expect([r.status, r.appStatus, text(r.stderr.preview), text(r.body.preview)]).toEqual([503, 3, 'something broke\n', 'down']);
      } else {
        expect(r.status).toBe(200);
        expect(r.headers).toContainEqual(['X-Test', 'yes']);
        expect(text(r.body.preview)).toBe(replies[i]);
        expect(r.appStatus).toBe(0);
      }
    }
    // the kept IPv4 connection carries the first four; IPv6 without keep-alive: one connection each
    const v4 = report.conversations.filter((c) => c.server!.port === ports[0]);
    const v6 = report.conversations.filter((c) => c.server!.port === ports[1]);
    expect(v4.flatMap((c) => c.exchanges).every((e) => e.keepConn)).toBe(true);
    expect(v4.length).toBe(1);
    expect(v6.length).toBe(2);
    expect(v6[0]!.client!.address).toBe('::1');
    expect(v6[0]!.closed).toBe(true);

    // fed in small slices, the incremental inspector finds the same, exchange by exchange
    const seen: string[] = [];
    const inc = new Inspector({ onExchange: (_c, e) => seen.push(param(e, 'REQUEST_URI')!) });
    for (let at = 0; at < bytes.length; at += 777) inc.push(bytes.subarray(at, at + 777));
    const again = inc.end();
    expect(seen.sort()).toEqual(sent.map((s) => s.path).sort());
    expect(all(again).map((e) => [e.response?.status, e.response?.body.bytes])).toEqual(got.map((e) => [e.response?.status, e.response?.body.bytes]));
  });

  it('nginx -> php-fpm (Linux cooked SLL2): scripts, a POST, stderr; php-fpm leaves STDOUT unterminated', async () => {
    const file = join(dir, 'nginx-php.pcap');
    const cap = await startTcpdump(file, `tcp port ${php.port}`, 'any');
    const r1 = await fetch(nginx.url('/index.php?a=1&b=two'));
    const j1 = await r1.json();
    const body = 'k=' + 'v'.repeat(3000);
    const r2 = await (await fetch(nginx.url('/post.php'), { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } })).text();
    const r3 = await (await fetch(nginx.url('/stderr.php'))).text();
    await cap.stop();
    const report = inspect(readFileSync(file));
    expect(linkType(file)).toBe(276); // LINKTYPE_LINUX_SLL2
    expect(errors(report)).toEqual([]);
    const got = all(report);
    expect(got.map((e) => param(e, 'SCRIPT_FILENAME'))).toEqual([`${DOCROOT}/index.php`, `${DOCROOT}/post.php`, `${DOCROOT}/stderr.php`]);
    expect(param(got[0]!, 'QUERY_STRING')).toBe('a=1&b=two');
    expect(JSON.parse(text(got[0]!.response!.body.preview))).toEqual(j1);
    expect(got[0]!.response!.headers).toContainEqual(['Content-Type', 'application/json']);
    expect([got[1]!.stdin.bytes, param(got[1]!, 'CONTENT_LENGTH'), text(got[1]!.response!.body.preview)]).toEqual([body.length, String(body.length), r2]);
    expect(text(got[2]!.response!.stderr.preview)).toContain('hello-stderr');
    expect(text(got[2]!.response!.body.preview)).toBe(r3);
    // the interop trap of conformance X14, once per response
    expect(report.findings.map((f) => f.code)).toEqual(['END_BEFORE_STDOUT_END', 'END_BEFORE_STDOUT_END', 'END_BEFORE_STDOUT_END']);
  });

  it('our Client -> php-fpm (Linux cooked SLL), and the same capture as pcapng', async () => {
    const file = join(dir, 'client-php.pcap');
    const cap = await startTcpdump(file, `tcp port ${php.port}`, 'any', ['-y', 'LINUX_SLL']);
    const client = new Client({ address: php.address, maxConnections: 1 });
    const params = (script: string, extra: Record<string, string> = {}) => ({ SCRIPT_FILENAME: `${DOCROOT}/${script}`, REQUEST_METHOD: 'GET', REQUEST_URI: `/${script}`, ...extra });
    const a = await client.call({ params: params('index.php', { QUERY_STRING: 'z=9' }) });
    const upload = new Uint8Array(20000).map((_, i) => i & 0xff);
    const b = await client.call({ params: params('post.php', { REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(upload.length), CONTENT_TYPE: 'application/octet-stream' }), body: upload });
    const c = await client.call({ params: params('missing.php') });
    client.close();
    await cap.stop();
    expect(linkType(file)).toBe(113); // LINKTYPE_LINUX_SLL
    const ng = join(dir, 'client-php.pcapng');
    execFileSync('editcap', ['-F', 'pcapng', file, ng], { stdio: 'ignore' });
    for (const [f, format] of [[file, 'pcap'], [ng, 'pcapng']] as const) {
      const report = inspect(readFileSync(f));
      expect(report.format).toBe(format);
      expect(errors(report)).toEqual([]);
      const got = all(report);
      expect(got.map((e) => param(e, 'REQUEST_URI'))).toEqual(['/index.php', '/post.php', '/missing.php']);
      const stdout = (e: Exchange) => e.response!.stdoutBytes;
      expect(got.map(stdout)).toEqual([a.stdout.length, b.stdout.length, c.stdout.length]);
      expect(got.map((e) => e.response!.appStatus)).toEqual([a.appStatus, b.appStatus, c.appStatus]);
      expect(got[1]!.stdin.bytes).toBe(upload.length);
      expect(Array.from(got[1]!.stdin.preview)).toEqual(Array.from(upload.subarray(0, 256)));
      expect(text(got[1]!.response!.body.preview)).toBe(text(b.stdout).split('\r\n\r\n')[1]);
      expect(got[0]!.response!.status).toBe(200);
      expect(got[0]!.keepConn).toBe(true);
      expect(report.conversations[0]!.client!.address).toBe('127.0.0.1');
      expect(report.conversations[0]!.server!.port).toBe(php.port);
    }
  });
});
