// The gateway in front of php-fpm: static files, scripts, the security rules (each with a test),
// failures mapped to 502/503/504, failover, and its PHP responses compared with nginx's.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, createServer, Encoder, FastCGIError, RecordType, statusForError, type GatewayHandler } from '../../src/index.js';
import { cgiParams } from '../../src/client/cgi-params.js';
import { startPhpFpm, type PhpFpm } from '../peers/php-fpm.js';
import { startNginx, freePort, type Nginx } from '../peers/nginx.js';

const DOCROOT = fileURLToPath(new URL('../fixtures/php', import.meta.url)).replace(/\/$/, '');
let php: PhpFpm;
let nginx: Nginx;
const servers: Server[] = [];
const gateways: GatewayHandler[] = [];
const logs: string[] = [];

async function gateway(options: Partial<Parameters<typeof createGateway>[0]> = {}): Promise<string> {
  const g = createGateway({ backends: php.address, documentRoot: DOCROOT, log: (m) => logs.push(m), ...options });
  gateways.push(g);
  const server = createHttpServer(g);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A FastCGI "app" that answers every request with these STDOUT bytes. */
async function fakeApp(stdout: string): Promise<{ address: string; server: NetServer }> {
  const enc = new Encoder();
  const server = createNetServer((s) =>
    s.once('data', () => s.end(Buffer.concat([...enc.stream(RecordType.STDOUT, 1, Buffer.from(stdout, 'latin1'), true), enc.endRequest(1, 0)]))),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

beforeAll(async () => {
  php = await startPhpFpm({ children: 4 });
  nginx = await startNginx(
    `root ${DOCROOT};
     location ~ \\.php$ { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name; fastcgi_pass ${php.address}; }`,
  );
});
// php-fpm keeps a worker on each kept connection: close every gateway's pool after its test, or the
// idle connections of earlier gateways hold all the workers
afterEach(async () => {
  gateways.splice(0).forEach((g) => g.close());
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
});
afterAll(async () => {
  await nginx?.stop();
  await php?.stop();
});

describe('gateway', () => {
  it('serves static files with type, length, HEAD and 304', async () => {
    const base = await gateway();
    const r = await fetch(`${base}/static.txt`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await r.text()).toBe('plain text file\n');
    const again = await fetch(`${base}/static.txt`, { headers: { 'if-modified-since': r.headers.get('last-modified')! } });
    expect(again.status).toBe(304);
    const head = await fetch(`${base}/static.txt`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe('16');
    expect((await fetch(`${base}/nope.txt`)).status).toBe(404);
  });

  it('runs scripts, index files and redirects directories', async () => {
    const base = await gateway();
    expect(await (await fetch(`${base}/docs/`)).text()).toBe('docs index');
    const dir = await fetch(`${base}/docs?x=1`, { redirect: 'manual' });
    expect(dir.status).toBe(301);
    expect(dir.headers.get('location')).toBe('/docs/?x=1');
    // a local redirect (Location: /path, no redirect status) is served by the gateway itself
    expect(await (await fetch(`${base}/redirect.php?to=local`)).json()).toMatchObject({ uri: '/index.php?from=redirect', method: 'GET' });
    const json = (await (await fetch(`${base}/index.php/more?q=1`)).json()) as Record<string, unknown>;
    expect(json).toMatchObject({ script: `${DOCROOT}/index.php`, path_info: '/more', query: { q: '1' } });
  });

  it('sends missing paths to the front controller when asked', async () => {
    const base = await gateway({ frontController: '/index.php' });
    expect(await (await fetch(`${base}/pretty/url?a=b`)).json()).toMatchObject({ uri: '/pretty/url?a=b', script: `${DOCROOT}/index.php` });
  });

  describe('security', () => {
    it('never passes a Proxy header as HTTP_PROXY (httpoxy)', async () => {
      const base = await gateway();
      const r = await fetch(`${base}/index.php`, { headers: { Proxy: 'http://attacker.test:8080' } });
      expect(((await r.json()) as { proxy: unknown }).proxy).toBeNull();
    });

    it('keeps SCRIPT_FILENAME inside the document root (.., encoded traversal, NUL)', async () => {
      const base = await gateway();
      for (const path of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/docs/..%2f..%2f..%2fetc/passwd', '/index.php%00.txt', '/..%5c..%5cetc/passwd']) {
        const r = await fetch(`${base}${path}`);
        expect([400, 404]).toContain(r.status);
        expect(await r.text()).not.toContain('root:');
      }
    });

    it('does not execute an uploaded file through a trailing path (/uploads/a.jpg/x.php)', async () => {
      const base = await gateway();
      const r = await fetch(`${base}/uploads/a.jpg/x.php`);
      expect(r.status).toBe(404);
      expect(await r.text()).not.toContain('EXECUTED');
      // and the file itself is served as an image, not run
      expect(await (await fetch(`${base}/uploads/a.jpg`)).text()).toContain('<?php');
    });

    it('sends CONTENT_LENGTH equal to the bytes actually sent, streamed or chunked', async () => {
      const base = await gateway();
      const body = Buffer.alloc(3 << 20, 'b');
      expect(await (await fetch(`${base}/post.php`, { method: 'POST', body })).text()).toMatch(new RegExp(`^${body.length} \\w+ ${body.length}$`));
      const chunked = new ReadableStream({
        start(c) {
          c.enqueue(Buffer.alloc(1000, 'x'));
          c.enqueue(Buffer.alloc(234, 'y'));
          c.close();
        },
      });
      expect(await (await fetch(`${base}/post.php`, { method: 'POST', body: chunked, duplex: 'half' } as RequestInit)).text()).toMatch(/^1234 \w+ 1234$/);
      // an empty body with Content-Length: 0 is CONTENT_LENGTH 0 (as nginx sends it), not absent
      expect(await (await fetch(`${base}/post.php`, { method: 'POST', body: '' })).text()).toBe('0 d41d8cd98f00b204e9800998ecf8427e 0');
    });

    it('refuses CR in a header from the backend with 502', async () => {
      const bad = await fakeApp('Content-Type: text/plain\r\nX-Evil: a\rSet-Cookie: x=1\r\n\r\nbody');
      const base = await gateway({ backends: bad.address, scriptPattern: /\.php$/ });
      const r = await fetch(`${base}/index.php`);
      expect(r.status).toBe(502);
      expect(r.headers.get('set-cookie')).toBeNull();
      bad.server.close();
    });

    it('answers 502 for a head node:http would refuse (control bytes, a bad Status), and keeps serving', async () => {
      for (const head of ['Status: 099 Odd', 'Status: 600 Beyond', 'X-Bell: a\x07b', 'X-Del: a\x7fb', 'Status: 404 Not\x01Found']) {
        const bad = await fakeApp(`Content-Type: text/plain\r\n${head}\r\n\r\nbody`);
        const base = await gateway({ backends: bad.address });
        const r = await fetch(`${base}/index.php`);
        expect(r.status, JSON.stringify(head)).toBe(502);
        expect(await r.text()).toBe('Bad Gateway\n');
        bad.server.close();
      }
      expect(logs.join('\n')).toMatch(/BAD_CGI_STATUS|invalid Status/);
      const base = await gateway();
      expect((await fetch(`${base}/static.txt`)).status).toBe(200); // the process is alive and well
    });

    it('drops request headers with underscores, which could pose as the dashed ones (nginx does too)', () => {
      const params = cgiParams({ url: new URL('http://x.test/a.php'), method: 'GET', rawHeaders: ['X_Real_IP', '::1', 'X-Real-IP', '127.0.0.1', 'Accept_Encoding', 'x'], hasBody: false }, 0, { documentRoot: DOCROOT });
      expect(params.HTTP_X_REAL_IP).toBe('127.0.0.1');
      expect(params.HTTP_ACCEPT_ENCODING).toBeUndefined();
    });
  });

  describe('as Express/Connect middleware', () => {
    it('passes what it does not serve to next(), and serves the rest', async () => {
      const g = createGateway({ backends: php.address, documentRoot: DOCROOT, log: (m) => logs.push(m) });
      gateways.push(g);
      const server = createHttpServer((req, res) =>
        g(req, res, () => {
          res.writeHead(418, { 'content-type': 'text/plain' });
          res.end('the next middleware\n');
        }),
      );
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const missing = await fetch(`${base}/no/such/page`);
      expect(missing.status).toBe(418);
      expect(await missing.text()).toBe('the next middleware\n');
      expect(await (await fetch(`${base}/static.txt`)).text()).toBe('plain text file\n');
      expect((await (await fetch(`${base}/index.php?a=1`)).json()).query).toEqual({ a: '1' });
    });
  });

  describe('failures', () => {
    it('answers 502 with the byte count logged for incomplete headers', async () => {
      const app = await fakeApp('Content-Type: text/plain\r\nX-Never-Ends: 1');
      const base = await gateway({ backends: app.address });
      expect((await fetch(`${base}/index.php`)).status).toBe(502);
      expect(logs.join('\n')).toContain('incomplete headers (41 bytes)');
      app.server.close();
    });

    it('checks a backend marked down, and balances over it again once it is up', async () => {
      const served = { a: 0, b: 0 };
      const app = (name: 'a' | 'b') => createServer((_req, res) => (served[name]++, res.end(name)));
      const a = app('a');
      await new Promise<void>((r) => a.listen({ port: 0, host: '127.0.0.1' }, () => r()));
      const bPort = await freePort();
      const base = await gateway({ backends: [`127.0.0.1:${(a.address() as { port: number }).port}`, `127.0.0.1:${bPort}`], passAll: true, healthCheckInterval: 100 });
      for (let i = 0; i < 4; i++) expect(await (await fetch(`${base}/x${i}`)).text()).toBe('a'); // b refused: failover
      expect(logs.join('\n')).toContain(`backend 127.0.0.1:${bPort} is down`);
      const b = app('b');
      await new Promise<void>((r) => b.listen({ port: bPort, host: '127.0.0.1' }, () => r()));
      for (let i = 0; i < 40 && !logs.join('\n').includes(`backend 127.0.0.1:${bPort} is up again`); i++) await new Promise((r) => setTimeout(r, 50));
      expect(logs.join('\n')).toContain(`backend 127.0.0.1:${bPort} is up again`); // found by the check, not by a request
      expect(served.b).toBe(0);
      for (let i = 0; i < 6; i++) await (await fetch(`${base}/y${i}`)).text();
      expect(served.b).toBeGreaterThanOrEqual(2); // round-robin over both again
      expect(served.a).toBeGreaterThanOrEqual(4 + 2);
      await Promise.all([a, b].map((s) => new Promise((r) => s.close(r))));
    });

    it('answers 502 when the backend is down, and fails over to a live one', async () => {
      const dead = `127.0.0.1:${await freePort()}`;
      const alone = await gateway({ backends: dead });
      expect((await fetch(`${alone}/index.php`)).status).toBe(502);
      const both = await gateway({ backends: [dead, php.address] });
      for (let i = 0; i < 4; i++) expect((await fetch(`${both}/index.php`)).status).toBe(200);
      expect(logs.join('\n')).toMatch(/backend 127\.0\.0\.1:\d+ is down/);
    });

    it('answers 504 when the backend does not answer in time', async () => {
      const silent = createNetServer((s) => s.on('data', () => {}));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
      const base = await gateway({ backends: `127.0.0.1:${(silent.address() as { port: number }).port}`, client: { timeouts: { firstByte: 300 }, multiplex: false } });
      expect((await fetch(`${base}/index.php`)).status).toBe(504);
      silent.close();
    });
  });

  it("finds the script in a path with the pattern's own flags (/\\.PHP$/i)", async () => {
    const base = await gateway({ scriptPattern: /\.PHP$/i });
    const r = await (await fetch(`${base}/index.php/extra/path`)).json();
    expect(r).toMatchObject({ script: `${DOCROOT}/index.php`, path_info: '/extra/path' });
  });

  it('serves the target of a local redirect: a script, or a static file', async () => {
    const base = await gateway();
    expect((await (await fetch(`${base}/redirect.php?to=local`)).json()).query).toEqual({ from: 'redirect' });
    const app = await fakeApp('Content-Type: text/html\r\nLocation: /static.txt\r\n\r\n');
    const toFile = await gateway({ backends: app.address });
    const r = await fetch(`${toFile}/index.php`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('plain text file\n');
    app.server.close();
  });

  it('ends the backend request when the HTTP client goes away mid-upload, and serves on', async () => {
    let endedEarly = 0;
    let bytesSeen = 0;
    const app = createServer((req, res) => {
      req.on('data', (d: Buffer) => (bytesSeen += d.length));
      res.on('close', () => !res.writableFinished && endedEarly++);
      req.on('end', () => res.end(`got ${bytesSeen}`));
    });
    await new Promise<void>((r) => app.listen({ port: 0, host: '127.0.0.1' }, () => r()));
    // streamed through (requestBuffering off), so the app sees the upload as it comes
    const base = await gateway({ backends: `127.0.0.1:${(app.address() as { port: number }).port}`, passAll: true, requestBuffering: false, maxBodySize: 64 << 20 });
    const req = httpRequest(`${base}/upload`, { method: 'POST', headers: { 'content-length': 10 << 20 } });
    req.on('error', () => {});
    req.write(Buffer.alloc(256 * 1024));
    for (let i = 0; i < 50 && bytesSeen === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(bytesSeen).toBeGreaterThan(0); // the upload was streaming through to the app
    req.destroy();
    for (let i = 0; i < 50 && endedEarly === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(endedEarly).toBe(1);
    bytesSeen = 0;
    expect(await (await fetch(`${base}/next`, { method: 'POST', body: 'abc' })).text()).toBe('got 3');
    await new Promise((r) => app.close(r));
  });

  it('does not send a request whose HTTP client left while it waited for a backend connection', async () => {
    const seenPaths: string[] = [];
    const app = createServer((req, res) => {
      seenPaths.push(req.url!);
      setTimeout(() => res.end('done'), req.url === '/slow' ? 400 : 0);
    });
    await new Promise<void>((r) => app.listen({ port: 0, host: '127.0.0.1' }, () => r()));
    const base = await gateway({ backends: `127.0.0.1:${(app.address() as { port: number }).port}`, passAll: true, client: { maxConnections: 1, multiplex: false } });
    const slow = fetch(`${base}/slow`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 50));
    const gone = httpRequest(`${base}/gone`);
    gone.on('error', () => {});
    gone.end();
    await new Promise((r) => setTimeout(r, 50));
    gone.destroy(); // while /gone waits for the one connection
    expect(await slow).toBe('done');
    expect(await (await fetch(`${base}/after`)).text()).toBe('done');
    expect(seenPaths).toEqual(['/slow', '/after']);
    await new Promise((r) => app.close(r));
  });

  it('maps timeouts, connecting included, to 504 and other failures to 502/503', () => {
    for (const code of ['TIMEOUT_FIRST_BYTE', 'TIMEOUT_IDLE', 'TIMEOUT_TOTAL', 'CONNECT_TIMEOUT']) expect(statusForError(new FastCGIError(code, 'x')), code).toBe(504);
    for (const code of ['CONNECT_FAILED', 'BACKEND_CLOSED', 'BAD_CGI_HEADER', 'INCOMPLETE_HEADERS']) expect(statusForError(new FastCGIError(code, 'x')), code).toBe(502);
    expect(statusForError(new FastCGIError('OVERLOADED', 'x'))).toBe(503);
  });

  it('sends a reply that arrives whole with a Content-Length, and streams one that arrives in pieces', async () => {
    // a whole reply: one read from the backend, so the gateway knows the length
    const whole = await fakeApp('Content-Type: text/plain\r\n\r\nall of it');
    const base = await gateway({ backends: whole.address, passAll: true });
    const r = await fetch(`${base}/x`);
    expect(r.headers.get('content-length')).toBe('9');
    expect(r.headers.get('transfer-encoding')).toBeNull();
    expect(await r.text()).toBe('all of it');
    whole.server.close();

    // a reply whose body keeps coming: the head and first bytes go out at once, chunked
    const enc = new Encoder();
    const slow = createNetServer((s) =>
      s.once('data', () => {
        s.write(Buffer.concat(enc.stream(RecordType.STDOUT, 1, Buffer.from('Content-Type: text/plain\r\n\r\nfirst '))));
        setTimeout(() => s.end(Buffer.concat([...enc.stream(RecordType.STDOUT, 1, Buffer.from('second'), true), enc.endRequest(1, 0)])), 800);
      }),
    );
    await new Promise<void>((done) => slow.listen(0, '127.0.0.1', () => done()));
    const base2 = await gateway({ backends: `127.0.0.1:${(slow.address() as { port: number }).port}`, passAll: true });
    const started = Date.now();
    const r2 = await fetch(`${base2}/x`);
    expect(Date.now() - started).toBeLessThan(600); // the head did not wait for the rest of the body
    expect(r2.headers.get('content-length')).toBeNull();
    expect(r2.headers.get('transfer-encoding')).toBe('chunked');
    expect(await r2.text()).toBe('first second');
    slow.close();
  });

  it('answers PHP pages as nginx does for the same php-fpm', async () => {
    const base = await gateway();
    const pages: [string, RequestInit?][] = [
      ['/missing.php'],
      ['/stderr.php'],
      ['/redirect.php', { redirect: 'manual' }],
      ['/post.php', { method: 'POST', body: 'hello world' }],
      ['/docs/index.php'],
      ['/index.php?a=1', { method: 'HEAD' }],
      ['/stderr.php', { method: 'HEAD' }],
    ];
    // every header the app sent, as nginx passes it on; only what each server adds of its own differs
    const own = new Set(['date', 'server', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);
    const appHeaders = (r: Response) => [...r.headers].filter(([name]) => !own.has(name));
    for (const [path, init] of pages) {
      const [ours, theirs] = await Promise.all([fetch(`${base}${path}`, init), fetch(nginx.url(path), init)]);
      expect(ours.status, path).toBe(theirs.status);
      expect(ours.statusText, path).toBe(theirs.statusText);
      expect(appHeaders(ours), path).toEqual(appHeaders(theirs));
      expect(ours.headers.getSetCookie(), path).toEqual(theirs.headers.getSetCookie());
      expect(await ours.text(), path).toBe(await theirs.text());
      // the body's length as sent: a Content-Length or the chunked body, the same bytes either way
      const length = (r: Response) => r.headers.get('content-length');
      if (length(ours) !== null && length(theirs) !== null) expect(length(ours), path).toBe(length(theirs));
    }
  });
});

describe('gateway: request bodies are read whole before a backend is contacted', () => {
  /** Our server as a backend that reports each request's CONTENT_LENGTH and the body bytes it got, and counts connections. */
  async function recordingApp(): Promise<{ address: string; connections: () => number; close(): Promise<void> }> {
    let connections = 0;
    const app = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`${req.fcgi.params.get('CONTENT_LENGTH')} ${Buffer.concat(chunks).length} ${createHash('md5').update(Buffer.concat(chunks)).digest('hex')}`));
    });
    app.on('connection', () => connections++);
    await new Promise<void>((r) => app.listen({ port: 0, host: '127.0.0.1' }, () => r()));
    return { address: `127.0.0.1:${(app.address() as { port: number }).port}`, connections: () => connections, close: () => new Promise((r) => app.close(() => r())) };
  }
  /** A POST whose body is written in `parts`, `gap` ms apart; resolves with the status and text. */
  function slowPost(url: string, parts: Buffer[], gap: number, headers: Record<string, string | number> = {}): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const total = parts.reduce((n, p) => n + p.length, 0);
      const req = httpRequest(url, { method: 'POST', headers: { 'content-length': total, ...headers } }, (res) => {
        let text = '';
        res.setEncoding('latin1').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      let i = 0;
      const next = (): void => {
        req.write(parts[i++]!);
        if (i < parts.length) setTimeout(next, gap);
        else req.end();
      };
      next();
    });
  }
  const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

  it('holds a slow upload itself (the backend sees nothing until it is whole), spooled to a temp file that is never visible', async () => {
    const app = await recordingApp();
    const tempDir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-gw-temp-'));
    try {
      const base = await gateway({ backends: app.address, passAll: true, bodyInMemory: 16 * 1024, tempDir });
      const body = Buffer.alloc(300_000);
      for (let i = 0; i < body.length; i += 331) body[i] = i & 255;
      const parts = [body.subarray(0, 100_000), body.subarray(100_000, 200_000), body.subarray(200_000)];
      const answer = slowPost(`${base}/upload`, parts, 200);
      const during: [number, number][] = [];
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 50));
        during.push([app.connections(), readdirSync(tempDir).length]);
      }
      expect(during.every(([connections]) => connections === 0)).toBe(true); // no backend connection while the body trickles in
      expect(during.every(([, files]) => files === 0)).toBe(true); // the temp file is unlinked as soon as it is open
      expect(await answer).toEqual({ status: 200, text: `300000 300000 ${md5(body)}` });
      expect(readdirSync(tempDir)).toEqual([]);
    } finally {
      rmSync(tempDir, { recursive: true, force: true });
      await app.close();
    }
  });

  it('sends a chunked body with its real length as CONTENT_LENGTH', async () => {
    const app = await recordingApp();
    const base = await gateway({ backends: app.address, passAll: true });
    const body = Buffer.from('x'.repeat(100_000));
    const r = await fetch(`${base}/chunked`, { method: 'POST', body: new Blob([body]).stream(), duplex: 'half' } as RequestInit);
    expect(await r.text()).toBe(`100000 100000 ${md5(body)}`);
    await app.close();
  });

  it('answers 413 for a declared length over maxBodySize without reading it, and for a chunked body that passes it; the backend sees neither', async () => {
    const app = await recordingApp();
    const base = await gateway({ backends: app.address, passAll: true, maxBodySize: 50_000 });
    const declared = await slowPost(`${base}/big`, [Buffer.alloc(10)], 0, { 'content-length': 60_000 }).catch((e: Error) => ({ status: 0, text: e.message }));
    expect(declared.status).toBe(413);
    const chunked = await fetch(`${base}/big`, { method: 'POST', body: new Blob([Buffer.alloc(60_000)]).stream(), duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(app.connections()).toBe(0);
    expect((await slowPost(`${base}/small`, [Buffer.from('abc')], 0)).text).toBe(`3 3 ${md5(Buffer.from('abc'))}`);
    await app.close();
  });

  it('answers 408 when the body stalls for bodyTimeout, and the backend sees nothing', async () => {
    const app = await recordingApp();
    const base = await gateway({ backends: app.address, passAll: true, bodyTimeout: 200 });
    const t0 = Date.now();
    const stalled = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/stall`, { method: 'POST', headers: { 'content-length': 1000 } }, (res) => resolve(res.statusCode!));
      req.on('error', reject);
      req.write(Buffer.alloc(100)); // 900 bytes never come
    });
    expect(stalled).toBe(408);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(180);
    expect(app.connections()).toBe(0);
    await app.close();
  });

  it('requestBuffering as a function streams the routes it names: the app sees the body while it is still coming', async () => {
    let seenBeforeEnd = -1;
    let received = 0;
    let ended = false;
    const app = createServer((req, res) => {
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('end', () => ((ended = true), res.end(`${received}`)));
    });
    await new Promise<void>((r) => app.listen({ port: 0, host: '127.0.0.1' }, () => r()));
    const base = await gateway({ backends: `127.0.0.1:${(app.address() as { port: number }).port}`, passAll: true, requestBuffering: (req) => !req.url!.startsWith('/stream') });
    const seenMidway = async (path: string): Promise<number> => {
      received = 0;
      ended = false;
      const answer = slowPost(`${base}${path}`, [Buffer.alloc(1000), Buffer.alloc(1000)], 300);
      await new Promise((r) => setTimeout(r, 150));
      seenBeforeEnd = ended ? -1 : received;
      expect((await answer).text).toBe('2000');
      return seenBeforeEnd;
    };
    expect(await seenMidway('/stream/up')).toBe(1000);
    expect(await seenMidway('/other/up')).toBe(0); // read whole first: the app sees nothing midway
    await new Promise((r) => app.close(r));
  });
});

describe('gateway: safe static defaults', () => {
  let root: string;
  let outside: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'fcgi-wasm-gw-root-'));
    outside = mkdtempSync(join(tmpdir(), 'fcgi-wasm-gw-outside-'));
    writeFileSync(join(root, '.env'), 'SECRET=1\n');
    mkdirSync(join(root, '.git'));
    writeFileSync(join(root, '.git', 'config'), '[core]\n');
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'sub', '.htaccess'), 'deny\n');
    writeFileSync(join(root, 'sub', 'a.txt'), 'inside\n');
    mkdirSync(join(root, '.well-known', 'acme-challenge'), { recursive: true });
    writeFileSync(join(root, '.well-known', 'acme-challenge', 'token'), 'proof\n');
    writeFileSync(join(outside, 'secret.txt'), 'outside\n');
    writeFileSync(join(outside, 'evil.php'), '<?php echo "ran outside";');
    symlinkSync(outside, join(root, 'outlink'));
    symlinkSync(join(outside, 'evil.php'), join(root, 'evil.php'));
    symlinkSync(join(root, 'sub'), join(root, 'inlink'));
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('refuses dot files and dot directories with 403, whether they exist or not, but serves /.well-known/', async () => {
    const base = await gateway({ documentRoot: root });
    for (const path of ['/.env', '/.git/config', '/sub/.htaccess', '/.missing', '/.git/', '/%2eenv', '/sub/..%2f.env']) {
      expect([path, (await fetch(`${base}${path}`)).status]).toEqual([path, 403]);
    }
    expect(await (await fetch(`${base}/.well-known/acme-challenge/token`)).text()).toBe('proof\n');
    expect(await (await fetch(`${base}/sub/a.txt`)).text()).toBe('inside\n');
    const open = await gateway({ documentRoot: root, dotfiles: 'allow' });
    expect(await (await fetch(`${open}/.env`)).text()).toBe('SECRET=1\n');
  });

  it('follows a symbolic link only to a target inside the root (a script too), unless symlinks is follow', async () => {
    const base = await gateway({ documentRoot: root });
    expect((await fetch(`${base}/outlink/secret.txt`)).status).toBe(403);
    expect((await fetch(`${base}/evil.php`)).status).toBe(403); // never handed to php-fpm
    expect(await (await fetch(`${base}/inlink/a.txt`)).text()).toBe('inside\n');
    const open = await gateway({ documentRoot: root, symlinks: 'follow' });
    expect(await (await fetch(`${open}/outlink/secret.txt`)).text()).toBe('outside\n');
  });
});

describe('gateway: aliases', () => {
  let root: string;
  let elsewhere: string;
  let deeper: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'fcgi-wasm-gw-alias-root-'));
    elsewhere = mkdtempSync(join(tmpdir(), 'fcgi-wasm-gw-alias-'));
    deeper = mkdtempSync(join(tmpdir(), 'fcgi-wasm-gw-alias-deep-'));
    writeFileSync(join(root, 'here.txt'), 'in the root\n');
    mkdirSync(join(elsewhere, 'themes'));
    writeFileSync(join(elsewhere, 'themes', 'style.css'), 'body{}\n');
    writeFileSync(join(elsewhere, 'run.php'), '<?php echo $_SERVER["SCRIPT_FILENAME"], " ", $_SERVER["SCRIPT_NAME"];');
    writeFileSync(join(deeper, 'style.css'), 'deeper\n');
    symlinkSync('/etc', join(elsewhere, 'etc'));
    for (const d of [root, elsewhere, deeper]) chmodSync(d, 0o755); // php-fpm's workers run as nobody
  });
  afterAll(() => [root, elsewhere, deeper].forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('serves a URL prefix from another directory (files, scripts, a directory redirect), the longest prefix first, links checked against that directory', async () => {
    const base = await gateway({ documentRoot: root, aliases: { '/wp-content/': elsewhere, '/wp-content/themes': deeper } });
    expect(await (await fetch(`${base}/here.txt`)).text()).toBe('in the root\n');
    expect(await (await fetch(`${base}/wp-content/themes/style.css`)).text()).toBe('deeper\n');
    const script = await fetch(`${base}/wp-content/run.php`);
    expect(await script.text()).toBe(`${elsewhere}/run.php /wp-content/run.php`);
    const dir = await fetch(`${base}/wp-content`, { redirect: 'manual' });
    expect([dir.status, dir.headers.get('location')]).toEqual([301, '/wp-content/']);
    expect((await fetch(`${base}/wp-content/etc/passwd`)).status).toBe(403);
    expect((await fetch(`${base}/wp-content-not/x`)).status).toBe(404);
  });
});
