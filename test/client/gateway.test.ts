// The gateway in front of php-fpm: static files, scripts, the security rules (each with a test),
// failures mapped to 502/503/504, failover, and its PHP responses compared with nginx's.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createGateway, Encoder, RecordType, type GatewayHandler } from '../../src/index.js';
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
    });

    it('refuses CR in a header from the backend with 502', async () => {
      const bad = await fakeApp('Content-Type: text/plain\r\nX-Evil: a\rSet-Cookie: x=1\r\n\r\nbody');
      const base = await gateway({ backends: bad.address, scriptPattern: /\.php$/ });
      const r = await fetch(`${base}/index.php`);
      expect(r.status).toBe(502);
      expect(r.headers.get('set-cookie')).toBeNull();
      bad.server.close();
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
    ];
    for (const [path, init] of pages) {
      const [ours, theirs] = await Promise.all([fetch(`${base}${path}`, init), fetch(nginx.url(path), init)]);
      expect(ours.status, path).toBe(theirs.status);
      for (const h of ['content-type', 'location']) expect(ours.headers.get(h), `${path} ${h}`).toBe(theirs.headers.get(h));
      expect(ours.headers.getSetCookie(), path).toEqual(theirs.headers.getSetCookie());
      expect(await ours.text(), path).toBe(await theirs.text());
    }
  });
});
