// Static files through the gateway as nginx serves them: the content types of nginx's mime.types,
// ETag and Last-Modified, conditional requests and byte ranges, each answered as nginx answers the same
// request for the same file (a real nginx serving the same directory).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer as createHttpServer, type Server } from 'node:http';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, type GatewayHandler } from '../../src/index.js';
import { contentType } from '../../src/client/mime-types.js';
import { startNginx, type Nginx } from '../peers/nginx.js';

let root: string;
let nginx: Nginx;
let gateway: GatewayHandler;
let server: Server;
let ours: string;
const body = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fcgi-wasm-static-'));
  writeFileSync(join(root, 'file.bin'), body);
  writeFileSync(join(root, 'empty.bin'), '');
  chmodSync(root, 0o755); // nginx's workers run as nobody
  nginx = await startNginx(`root ${root};`);
  gateway = createGateway({ backends: '127.0.0.1:1', documentRoot: root });
  server = createHttpServer(gateway);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  ours = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  gateway?.close();
  await new Promise((r) => server?.close(r));
  await nginx?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** What a front end answers: the status, the headers that matter here, and the body. */
async function answer(base: string, path: string, headers: Record<string, string> = {}, method = 'GET') {
  const r = await fetch(`${base}${path}`, { headers, method });
  const pick = (name: string) => r.headers.get(name);
  return { status: r.status, range: pick('content-range'), length: pick('content-length'), etag: pick('etag'), modified: pick('last-modified'), body: method === 'HEAD' ? '' : await r.text() };
}

describe('static files as nginx serves them', () => {
  it("maps every extension of nginx's mime.types to nginx's type (JavaScript as RFC 9239 says, text with its charset)", () => {
    const text = readFileSync('/etc/nginx/mime.types', 'utf8');
    const inner = text.slice(text.indexOf('{') + 1, text.lastIndexOf('}'));
    let checked = 0;
    for (const m of inner.matchAll(/^\s*([\w.+/-]+)\s+([^;]+);/gm)) {
      for (const ext of m[2]!.trim().split(/\s+/)) {
        const expected = ext === 'js' ? 'text/javascript' : m[1]!;
        expect([ext, contentType(`/a/b.${ext}`).split(';')[0]]).toEqual([ext, expected]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
    for (const [file, type] of [['f.WOFF2', 'font/woff2'], ['f.eot', 'application/vnd.ms-fontobject'], ['f.mp4', 'video/mp4'], ['f.mp3', 'audio/mpeg'], ['f.mjs', 'text/javascript'], ['noext', 'application/octet-stream'], ['dir.d/noext', 'application/octet-stream']] as const) {
      expect([file, contentType(file)]).toEqual([file, type]);
    }
  });

  it('sends the same ETag and Last-Modified as nginx, and answers If-None-Match and If-Modified-Since as it does', async () => {
    const first = await answer(ours, '/file.bin');
    const reference = await answer(nginx.url(''), '/file.bin');
    expect(first).toEqual(reference);
    const etag = first.etag!;
    const cases: Record<string, string>[] = [
      { 'if-none-match': etag },
      { 'if-none-match': `W/${etag}` },
      { 'if-none-match': `"other", ${etag}` },
      { 'if-none-match': '*' },
      { 'if-none-match': '"other"', 'if-modified-since': first.modified! }, // If-None-Match decides
      { 'if-modified-since': first.modified! },
      { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' },
    ];
    for (const headers of cases) {
      const [a, b] = [await answer(ours, '/file.bin', headers), await answer(nginx.url(''), '/file.bin', headers)];
      expect([headers, a.status, a.etag]).toEqual([headers, b.status, b.etag]);
    }
  });

  it('answers single byte ranges with 206, past the end with 416, and If-Range as nginx does', async () => {
    const etag = (await answer(ours, '/file.bin')).etag!;
    const modified = (await answer(ours, '/file.bin')).modified!;
    const cases: Record<string, string>[] = [
      { range: 'bytes=0-4' },
      { range: 'bytes=10-' },
      { range: 'bytes=-5' },
      { range: 'bytes=30-1000' },
      { range: 'bytes=36-' },
      { range: 'bytes=1000-2000' },
      { range: 'bytes=5-2' },
      { range: 'bytes=0-4', 'if-range': etag },
      { range: 'bytes=0-4', 'if-range': '"stale"' },
      { range: 'bytes=0-4', 'if-range': modified },
      { range: 'bytes=0-4', 'if-range': 'Thu, 01 Jan 1970 00:00:00 GMT' },
    ];
    for (const headers of cases) {
      const [a, b] = [await answer(ours, '/file.bin', headers), await answer(nginx.url(''), '/file.bin', headers)];
      // a 416's body is each server's own error page
      const shape = (x: typeof a) => (x.status === 416 ? { status: x.status, range: x.range } : { status: x.status, range: x.range, length: x.length, body: x.body });
      expect([headers, shape(a)]).toEqual([headers, shape(b)]);
    }
  });

  it('answers several ranges with the whole file (RFC 9110 allows it; nginx sends multipart/byteranges)', async () => {
    const r = await answer(ours, '/file.bin', { range: 'bytes=0-1,5-6' });
    expect([r.status, r.body]).toEqual([200, body.toString()]);
  });

  it('answers HEAD and an empty file as nginx does', async () => {
    for (const [path, method] of [['/file.bin', 'HEAD'], ['/empty.bin', 'GET']] as const) {
      const [a, b] = [await answer(ours, path, {}, method), await answer(nginx.url(''), path, {}, method)];
      expect([path, method, a]).toEqual([path, method, b]);
    }
  });
});
