// The Client against real apps: php-fpm (Debian), fcgi2's C library and our own server (multiplexed), and the faults a
// client must survive: the app down, killed mid-response, silent; pool limits; aborts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createServer as createNetServer } from 'node:net';
import { Client, createServer, Decoder, Encoder, ProtocolStatus, RecordType, type FcgiServer } from '../../src/index.js';
import { startPhpFpm, type PhpFpm } from '../peers/php-fpm.js';
import { freePort } from '../peers/ports.js';
import { startFcgi2App, type Fcgi2App } from '../peers/fcgi2-app.js';

const DOCROOT = fileURLToPath(new URL('../fixtures/php', import.meta.url));
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

/** A whole reply to request 1: STDOUT "hi", the STDOUT end, END_REQUEST. */
const HI_REPLY = Buffer.from('0106000100020600' + '6869' + '000000000000' + '0103000100080000' + '0000000000000000', 'hex');

/**
 * An app that answers the first request of each connection (HI_REPLY) and drops the connection on the
 * next one unanswered, as a process that is stopping does with its idle kept connections.
 */
async function startDropper(): Promise<{ address: string; connections: () => number; close: () => void }> {
  let connections = 0;
  const server = createNetServer((s) => {
    connections++;
    let requests = 0;
    s.on('data', () => (requests++ === 0 ? s.write(HI_REPLY) : s.destroy()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, connections: () => connections, close: () => server.close() };
}

let php: PhpFpm;
let ours: FcgiServer;
let oursAddress: string;
let concurrentPeak = 0;

beforeAll(async () => {
  php = await startPhpFpm({ children: 2, maxRequests: 5 });
  let inFlight = 0;
  ours = createServer((req, res) => {
    inFlight++;
    concurrentPeak = Math.max(concurrentPeak, inFlight);
    const delay = Number(new URL(req.url!, 'http://x').searchParams.get('ms') ?? 0);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () =>
      setTimeout(() => {
        inFlight--;
        req.fcgi.stderr.write(`log ${req.url}\n`);
        req.fcgi.appStatus = 7;
        res.end(`${req.url} ${Buffer.concat(chunks).length}`);
      }, delay),
    );
  });
  await new Promise<void>((r) => ours.listen({ port: 0, host: '127.0.0.1' }, () => r()));
  oursAddress = `127.0.0.1:${(ours.address() as { port: number }).port}`;
});
afterAll(async () => {
  await php?.stop();
  await new Promise((r) => ours.close(r));
});

describe('Client with php-fpm', () => {
  const client = () => new Client({ address: php.address, maxConnections: 2 });

  it('GET: CGI params built from the Request', async () => {
    const c = client();
    const res = await c.fetch(new Request('http://site.test/index.php/extra/info?a=1&b=two', { headers: { 'user-agent': 'vitest', proxy: 'http://evil' } }), { documentRoot: DOCROOT });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toMatchObject({ method: 'GET', uri: '/index.php/extra/info?a=1&b=two', script: `${DOCROOT}/index.php`, path_info: '/extra/info', query: { a: '1', b: 'two' }, proxy: null, agent: 'vitest' });
    c.close();
  });

  it('POST of 10 MiB arrives whole with CONTENT_LENGTH equal to the bytes sent', async () => {
    const c = client();
    const body = Buffer.alloc(10 << 20);
    for (let i = 0; i < body.length; i += 7) body[i] = i & 255;
    const res = await c.fetch(new Request('http://site.test/post.php', { method: 'POST', body }), { documentRoot: DOCROOT });
    expect(await res.text()).toBe(`${body.length} ${createHash('md5').update(body).digest('hex')} ${body.length}`);
    c.close();
  });

  it('uploads a multipart file', async () => {
    const c = client();
    const form = new FormData();
    form.append('doc', new Blob([Buffer.alloc(123_456, 'z')]), 'a.bin');
    const res = await c.fetch(new Request('http://site.test/post.php', { method: 'POST', body: form }), { documentRoot: DOCROOT });
    expect(await res.text()).toContain('file doc a.bin 123456');
    c.close();
  });

  it('follows a local redirect and returns a client redirect as 302', async () => {
    const c = client();
    const local = await c.fetch('http://site.test/redirect.php?to=local', { documentRoot: DOCROOT });
    expect(local.status).toBe(200);
    expect(await local.json()).toMatchObject({ uri: '/index.php?from=redirect' });
    const away = await c.fetch('http://site.test/redirect.php', { documentRoot: DOCROOT });
    expect(away.status).toBe(302);
    expect(away.headers.get('location')).toBe('http://example.test/elsewhere');
    c.close();
  });

  it('passes a 404 and repeated headers through', async () => {
    const c = client();
    const res = await c.fetch('http://site.test/missing.php', { documentRoot: DOCROOT });
    expect(res.status).toBe(404);
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.text()).toBe('not found\n');
    c.close();
  });

  it('collects stderr (php-fpm sends no stream terminators)', async () => {
    const c = client();
    const r = await c.call({ params: { SCRIPT_FILENAME: `${DOCROOT}/stderr.php`, REQUEST_METHOD: 'GET' } });
    expect(text(r.stderr)).toContain('hello-stderr');
    expect(text(r.stdout)).toMatch(/\r\n\r\nok$/);
    c.close();
  });

  it('does not stall when the pool may open more connections than php-fpm has workers', async () => {
    // php-fpm (2 workers here) accepts a connection per worker and keeps reading it while we keep it:
    // requests written on the other connections wait in its listen queue until an idle kept one closes
    const c = new Client({ address: php.address, maxConnections: 8 });
    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => c.fetch(`http://site.test/index.php?n=${i}`, { documentRoot: DOCROOT }).then((r) => r.status)));
    expect(statuses).toEqual(Array(20).fill(200));
    c.close();
  }, 20_000); // the idle timeout (30 s) is what would end a stall

  it('reconnects when php-fpm closes kept connections after pm.max_requests', async () => {
    const c = new Client({ address: php.address, maxConnections: 1 });
    const pids = new Set<number>();
    for (let i = 0; i < 23; i++) {
      const res = await c.fetch(`http://site.test/index.php?i=${i}`, { documentRoot: DOCROOT });
      expect(res.status).toBe(200);
      pids.add(((await res.json()) as { pid: number }).pid);
    }
    expect(pids.size).toBeGreaterThan(2); // workers were recycled every 5 requests
    c.close();
  });
});

describe('Client with our own server', () => {
  it('multiplexes once the app says FCGI_MPXS_CONNS=1', async () => {
    const c = new Client({ address: oursAddress, maxConnections: 1 });
    await c.call({ params: { REQUEST_URI: '/warm' } }); // the GET_VALUES answer arrives meanwhile
    concurrentPeak = 0;
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => c.call({ params: { REQUEST_URI: `/m${i}?ms=50` }, body: Buffer.alloc(i * 1000) })));
    replies.forEach((r, i) => {
      expect(text(r.stdout)).toMatch(new RegExp(`\\r\\n\\r\\n/m${i}\\?ms=50 ${i * 1000}$`));
      expect(text(r.stderr)).toBe(`log /m${i}?ms=50\n`);
      expect(r.appStatus).toBe(7);
    });
    expect(c.connections).toBe(1);
    expect(concurrentPeak).toBeGreaterThan(1);
    c.close();
  });

  it('closes kept connections once idle for idleTimeout, never one in use', async () => {
    const c = new Client({ address: oursAddress, idleTimeout: 150, multiplex: false });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await Promise.all([c.call({ params: { REQUEST_URI: '/a' } }), c.call({ params: { REQUEST_URI: '/b' } })]);
    expect(c.connections).toBe(2);
    const slow = c.call({ params: { REQUEST_URI: '/slow?ms=600' } }); // on one of them, longer than idleTimeout
    const until = async (n: number) => {
      for (let i = 0; i < 100 && c.connections !== n; i++) await sleep(10);
    };
    await until(1);
    expect(c.connections).toBe(1); // the idle one closed, the busy one stayed
    expect(text((await slow).stdout)).toMatch(/\r\n\r\n\/slow\?ms=600 0$/);
    expect(c.connections).toBe(1);
    await until(0);
    expect(c.connections).toBe(0);
    expect(text((await c.call({ params: { REQUEST_URI: '/again' } })).stdout)).toMatch(/\r\n\r\n\/again 0$/);
    c.close();
  });

  it('request() streams the raw reply and gives the parsed head', async () => {
    const c = new Client({ address: oursAddress });
    const reply = await c.request({ params: { REQUEST_URI: '/h' } });
    const head = await reply.head;
    expect(head.status).toBe(200);
    const parts: Uint8Array[] = [];
    for await (const chunk of reply.stdout as unknown as AsyncIterable<Uint8Array>) parts.push(chunk);
    const raw = Buffer.concat(parts).toString();
    expect(raw).toMatch(/^Status: 200 OK\r\n/);
    expect(raw.endsWith('/h 0')).toBe(true);
    expect((await reply.done).appStatus).toBe(7);
    c.close();
  });

  it('streams a request body from a ReadableStream', async () => {
    const c = new Client({ address: oursAddress });
    let n = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (n++ === 50) return ctl.close();
        ctl.enqueue(new Uint8Array(10_000));
      },
    });
    const r = await c.call({ params: { REQUEST_URI: '/s' }, body });
    expect(text(r.stdout)).toMatch(/ 500000$/);
    c.close();
  });
});

describe('Client roles', () => {
  it('authorize(): 200 with Variable- headers allows, anything else denies with the response', async () => {
    const auth = createServer((req, res) => {
      if (req.headers.cookie === 'session=good') {
        res.setHeader('Variable-USER', 'ana');
        res.end();
      } else {
        res.statusCode = 403;
        res.end('no');
      }
    });
    await new Promise<void>((r) => auth.listen({ port: 0, host: '127.0.0.1' }, () => r()));
    const c = new Client({ address: `127.0.0.1:${(auth.address() as { port: number }).port}` });
    expect(await c.authorize({ params: { HTTP_COOKIE: 'session=good' } })).toMatchObject({ allowed: true, status: 200, variables: { USER: 'ana' } });
    const denied = await c.authorize({ params: { HTTP_COOKIE: 'session=bad' } });
    expect(denied).toMatchObject({ allowed: false, status: 403 });
    expect(text(denied.body)).toBe('no');
    c.close();
    await new Promise((r) => auth.close(r));
  });

  it('filter(): sends the file as FCGI_DATA', async () => {
    const upper = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.fcgi.data!.on('data', (d: Buffer) => parts.push(d)).on('end', () => res.end(`${req.params.FCGI_DATA_LENGTH} ${Buffer.concat(parts).toString().toUpperCase()}`));
    });
    await new Promise<void>((r) => upper.listen({ port: 0, host: '127.0.0.1' }, () => r()));
    const c = new Client({ address: `127.0.0.1:${(upper.address() as { port: number }).port}` });
    const r = await c.filter({ params: {}, data: 'hello world' }); // FCGI_DATA_LENGTH added by filter()
    expect(text(r.stdout)).toMatch(/\r\n\r\n11 HELLO WORLD$/);
    const bytes = await c.filter({ params: [['SCRIPT_NAME', '/f']], data: 'héllo' }); // pairs as a list; length in bytes
    expect(Buffer.from(bytes.stdout).toString()).toMatch(/\r\n\r\n6 HÉLLO$/);
    c.close();
    await new Promise((r) => upper.close(r));
  });
});

describe("Client with fcgi2's C library app", () => {
  let app: Fcgi2App;
  beforeAll(async () => {
    app = await startFcgi2App();
  });
  afterAll(() => app?.stop());

  it('GET, params as the app sees them, Status and stderr', async () => {
    const c = new Client({ address: app.address });
    const hello = await c.fetch('http://site.test/hello?x=1', { documentRoot: '/srv', scriptFilename: '/srv/hello' });
    expect(hello.status).toBe(200);
    expect(await hello.text()).toBe('hello\n');
    const params = await (await c.fetch('http://site.test/params?q=%20a', { documentRoot: '/srv', scriptFilename: '/srv/params', params: { APP_TEST: 'v' } })).text();
    expect(params.split('\n')).toEqual(expect.arrayContaining(['REQUEST_METHOD=GET', 'QUERY_STRING=q=%20a', 'SCRIPT_NAME=/params', 'APP_TEST=v']));
    const missing = await c.fetch('http://site.test/status', { documentRoot: '/srv', scriptFilename: '/srv/status' });
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('not here\n');
    const r = await c.call({ params: { SCRIPT_NAME: '/stderr' } });
    expect(text(r.stderr)).toBe('a line on stderr\n');
    c.close();
  });

  it('streams a 1 MiB body there and back, and keeps the connection between requests', async () => {
    const c = new Client({ address: app.address, maxConnections: 1 });
    const body = Buffer.alloc(1 << 20);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 255;
    const echoed = await c.fetch(new Request('http://site.test/echo', { method: 'POST', body }), { documentRoot: '/srv', scriptFilename: '/srv/echo' });
    expect(Buffer.from(await echoed.arrayBuffer()).equals(body)).toBe(true);
    const pids = await Promise.all([1, 2, 3].map(async () => (await c.call({ params: { SCRIPT_NAME: '/pid' } })).stdout));
    expect(new Set(pids.map((p) => text(p).split('\r\n\r\n')[1])).size).toBe(1);
    expect(c.connections).toBe(1);
    c.close();
  });

  it('sends 50 concurrent requests without losing one (fcgi2 does not multiplex)', async () => {
    const c = new Client({ address: app.address, maxConnections: 4 });
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => c.fetch(`http://site.test/params?i=${i}`, { documentRoot: '/srv', scriptFilename: '/srv/params' }).then((r) => r.text())));
    replies.forEach((body, i) => expect(body).toContain(`QUERY_STRING=i=${i}\n`));
    c.close();
  });
});

describe('Client with an app that does not multiplex', () => {
  it('never puts a second request on a connection before the first ended', async () => {
    // our server with multiplexing off answers CANT_MPX_CONN to a request pipelined behind another
    const single = createServer({ multiplex: false }, (req, res) => setTimeout(() => res.end(req.url), 2));
    await new Promise<void>((r) => single.listen({ port: 0, host: '127.0.0.1' }, () => r()));
    const c = new Client({ address: `127.0.0.1:${(single.address() as { port: number }).port}`, maxConnections: 4 });
    await Promise.all([1, 2, 3, 4].map((i) => c.call({ params: { REQUEST_URI: `/warm${i}` } }))); // four idle connections now
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => c.call({ params: { REQUEST_URI: `/r${i}` } })));
    replies.forEach((r, i) => expect(text(r.stdout)).toMatch(new RegExp(`\r\n\r\n/r${i}$`)));
    expect(c.connections).toBeLessThanOrEqual(4);
    c.close();
    await new Promise((r) => single.close(r));
  });
});

describe('Client faults', () => {
  it('says CONNECT_FAILED when nothing listens', async () => {
    const c = new Client({ address: `127.0.0.1:${await freePort()}` });
    await expect(c.call({ params: {} })).rejects.toMatchObject({ code: 'CONNECT_FAILED' });
    c.close();
  });

  it('times out an app that never answers, and the pool recovers', async () => {
    const silent = createNetServer((s) => s.on('data', () => {}));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const c = new Client({ address: `127.0.0.1:${(silent.address() as { port: number }).port}`, maxConnections: 1, multiplex: false, timeouts: { firstByte: 200 } });
    await expect(c.call({ params: {} })).rejects.toMatchObject({ code: 'TIMEOUT_FIRST_BYTE' });
    await expect(c.call({ params: {} })).rejects.toMatchObject({ code: 'TIMEOUT_FIRST_BYTE' }); // a new connection, not a hang
    c.close();
    silent.close();
  });

  it('reports an app killed mid-response as BACKEND_CLOSED, and the pool recovers', async () => {
    // the first connection dies in the middle of a STDOUT record; later ones answer whole
    let connections = 0;
    const dying = createNetServer((s) => {
      const n = ++connections;
      s.on('data', () => (n === 1 ? s.end(Buffer.from('01060001000500006869', 'hex')) : s.write(HI_REPLY)));
    });
    await new Promise<void>((r) => dying.listen(0, '127.0.0.1', () => r()));
    const c = new Client({ address: `127.0.0.1:${(dying.address() as { port: number }).port}`, multiplex: false, maxConnections: 1 });
    await expect(c.call({ params: {} })).rejects.toMatchObject({ code: expect.stringMatching(/BACKEND_CLOSED|TRUNCATED_CONTENT/) });
    expect(text((await c.call({ params: {} })).stdout)).toBe('hi');
    expect(text((await c.call({ params: {} })).stdout)).toBe('hi');
    expect(connections).toBe(2);
    c.close();
    dying.close();
  });

  it('sends again, through exchange(), a request that a kept connection lost before any reply', async () => {
    const app = await startDropper();
    const c = new Client({ address: app.address, multiplex: false });
    const viaExchange = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const out: Uint8Array[] = [];
        c.exchange({ params: { REQUEST_METHOD: 'GET' } }, { stdout: (b) => out.push(b), stderr: () => {}, end: () => resolve(text(Buffer.concat(out))), fail: reject }).catch(reject);
      });
    expect(await viaExchange()).toBe('hi');
    expect(await viaExchange()).toBe('hi'); // lost on the kept connection, answered on a new one
    expect(app.connections()).toBe(2);
    c.close();
    app.close();
  });

  it('aborts with the AbortSignal, and queues past maxConnections', async () => {
    const c = new Client({ address: oursAddress, maxConnections: 1, multiplex: false });
    const ac = new AbortController();
    const slow = c.call({ params: { REQUEST_URI: '/a?ms=2000' }, signal: ac.signal });
    const queued = c.call({ params: { REQUEST_URI: '/b' } });
    setTimeout(() => ac.abort(), 50);
    await expect(slow).rejects.toMatchObject({ name: 'AbortError' });
    expect(text((await queued).stdout)).toMatch(/\/b 0$/);
    c.close();
  });

  it("emits 'stderr' for every request, whatever API sent it (fetch() included)", async () => {
    const c = new Client({ address: oursAddress });
    const logged: string[] = [];
    c.on('stderr', (chunk, params) => logged.push(`${(params as Record<string, string>).REQUEST_URI}: ${text(chunk).trim()}`));
    await c.call({ params: { REQUEST_URI: '/one' } });
    await (await c.fetch('http://site.test/two', { documentRoot: '/srv' })).text();
    expect(logged).toEqual(['/one: log /one', '/two: log /two']);
    c.close();
  });

  it('says BAD_ADDRESS for an address it cannot use, every time (nothing is left counted)', async () => {
    const c = new Client({ address: 'no-port-here', maxConnections: 1 });
    for (let i = 0; i < 3; i++) await expect(c.call({ params: {} })).rejects.toMatchObject({ code: 'BAD_ADDRESS' });
    c.close();
  });

  it('goes back to one request per connection when an app that said it multiplexes answers CANT_MPX_CONN', async () => {
    // says FCGI_MPXS_CONNS=1, but refuses a second request while one is running on a connection
    const enc = new Encoder();
    let refusals = 0;
    const liar = createNetServer((s) => {
      const active = new Set<number>();
      const dec = new Decoder({
        pairs: (type) => {
          if (type === RecordType.GET_VALUES) s.write(enc.getValuesResult({ FCGI_MPXS_CONNS: '1', FCGI_MAX_REQS: '10' }));
        },
        begin: (id) => {
          if (active.size > 0) return void (refusals++, s.write(enc.endRequest(id, 0, ProtocolStatus.CANT_MPX_CONN)));
          active.add(id);
          setTimeout(() => {
            active.delete(id);
            s.write(Buffer.concat([...enc.stream(RecordType.STDOUT, id, Buffer.from('ok'), true), enc.endRequest(id, 0)]));
          }, 30);
        },
      });
      s.on('data', (d) => dec.push(d));
    });
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', () => r()));
    const address = `127.0.0.1:${(liar.address() as { port: number }).port}`;
    // request() never sends a request again: the refusal is the caller's, typed
    const once = new Client({ address, maxConnections: 4, multiplex: true });
    await once.call({ params: {} }); // one connection open: the next two go on it together
    const replies = await Promise.all([1, 2].map(() => once.request({ params: {} })));
    const ends = await Promise.allSettled(replies.map((r) => r.done));
    expect(ends.map((e) => (e.status === 'rejected' ? (e.reason as { code: string }).code : 'ok')).sort()).toEqual(['CANT_MPX_CONN', 'ok']);
    once.close();
    // call() sends a refused request again (it never ran: whatever its method), on a connection of its own
    const c = new Client({ address, maxConnections: 4, multiplex: true });
    await c.call({ params: {} });
    const before = refusals;
    const first = await Promise.all(['GET', 'POST', 'GET'].map((m) => c.call({ params: { REQUEST_METHOD: m }, body: 'x' })));
    first.forEach((r) => expect(text(r.stdout)).toBe('ok'));
    expect(refusals).toBeGreaterThan(before);
    const after = refusals;
    await Promise.all([1, 2, 3].map(() => c.call({ params: {} })));
    expect(refusals).toBe(after); // one request per connection from then on
    c.close();
    liar.close();
  });

  it('turns OVERLOADED into a typed error', async () => {
    const busy = createServer({ maxConnections: 0 }, (_q, s) => s.end());
    await new Promise<void>((r) => busy.listen({ port: 0, host: '127.0.0.1' }, () => r()));
    const c = new Client({ address: `127.0.0.1:${(busy.address() as { port: number }).port}` });
    await expect(c.call({ params: {} })).rejects.toMatchObject({ code: 'OVERLOADED' });
    c.close();
    await new Promise((r) => busy.close(r));
  });
});

describe('Client streams, aborts and timeouts', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let app: FcgiServer;
  let address: string;
  /** Per path: what the app's handler saw (requests, bytes written, whether the web side went away). */
  const seen = { requests: [] as string[], written: 0, closedEarly: 0 };

  beforeAll(async () => {
    app = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      seen.requests.push(url.pathname);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      res.on('close', () => {
        if (!res.writableFinished) seen.closedEarly++;
      });
      req.on('end', async () => {
        const ms = Number(url.searchParams.get('ms') ?? 0);
        if (url.pathname === '/drip') {
          // a head, then a chunk every `ms` for ever (until the web side goes away)
          res.setHeader('content-type', 'text/plain');
          res.write('first\n');
          const timer = setInterval(() => res.write('more\n'), ms);
          res.on('close', () => clearInterval(timer));
        } else if (url.pathname === '/big') {
          // 32 MiB in 64 KiB writes, each after the last one drained: `written` is what was taken
          const piece = Buffer.alloc(64 * 1024, 'x');
          for (let i = 0; i < 512 && !res.destroyed; i++) {
            seen.written += piece.length;
            if (!res.write(piece)) await new Promise((r) => res.once('drain', r).once('close', r));
          }
          res.end();
        } else if (url.pathname === '/later') {
          res.write('part, '); // the head and a first piece; the rest and END_REQUEST in a later read
          await sleep(ms);
          res.end('rest');
        } else if (url.pathname === '/stall') {
          res.write('head\n'); // then nothing
        } else {
          await sleep(ms);
          res.end(`${url.pathname} ${Buffer.concat(chunks).length}`);
        }
      });
    });
    await new Promise<void>((r) => app.listen({ port: 0, host: '127.0.0.1' }, () => r()));
    address = `127.0.0.1:${(app.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => app.close(r));
  });

  for (const multiplex of [false, true]) {
    it(`request(): cancelling stdout gives the request up, and the client goes on (${multiplex ? 'multiplexed: ABORT_REQUEST' : 'plain connection: closed'})`, async () => {
      const c = new Client({ address, multiplex, maxConnections: 1 });
      const before = seen.closedEarly;
      const reply = await c.request({ params: { REQUEST_URI: '/drip?ms=10', REQUEST_METHOD: 'GET' } });
      const reader = reply.stdout.getReader();
      expect(text((await reader.read()).value!)).toContain('first');
      await reader.cancel();
      await expect(reply.done).rejects.toMatchObject({ code: 'CANCELLED' });
      await sleep(100); // the app went on writing meanwhile: none of it may reach the cancelled stream
      expect(seen.closedEarly).toBe(before + 1); // the app saw the request end (abort, or the connection closed)
      expect(text((await c.call({ params: { REQUEST_URI: '/after' } })).stdout)).toMatch(/\/after 0$/);
      c.close();
    });
  }

  it('request(): a reader that falls behind holds the app back (backpressure), and gets every byte', async () => {
    const c = new Client({ address, multiplex: false });
    seen.written = 0;
    const reply = await c.request({ params: { REQUEST_URI: '/big' } });
    await sleep(400); // nothing read: the app must have stopped, well short of 32 MiB
    const heldBack = seen.written;
    await sleep(400);
    expect(seen.written).toBe(heldBack);
    expect(heldBack).toBeLessThan(16 << 20);
    let bytes = 0;
    for await (const chunk of reply.stdout as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
    expect(bytes).toBeGreaterThan(32 << 20); // the body and the CGI head
    expect(seen.written).toBe(32 << 20);
    expect((await reply.done).appStatus).toBe(0);
    c.close();
  });

  it('a reply that ends while its reader is behind leaves the connection running for the next request', async () => {
    // 256 KiB of STDOUT and END_REQUEST in one write: the end arrives while the stream is full (paused)
    const enc = new Encoder();
    const replyBytes = Buffer.concat([...enc.stream(RecordType.STDOUT, 1, Buffer.alloc(256 * 1024, 'y'), true), enc.endRequest(1, 0)]);
    const whole = createNetServer((s) => s.on('data', () => s.write(replyBytes)));
    await new Promise<void>((r) => whole.listen(0, '127.0.0.1', () => r()));
    const c = new Client({ address: `127.0.0.1:${(whole.address() as { port: number }).port}`, maxConnections: 1, multiplex: false });
    for (let i = 0; i < 3; i++) {
      const reply = await c.request({ params: { REQUEST_METHOD: 'GET' } });
      let bytes = 0;
      for await (const chunk of reply.stdout as unknown as AsyncIterable<Uint8Array>) {
        await sleep(20); // a slow reader: the stream stays full, and the connection paused, to the end
        bytes += chunk.length;
      }
      expect(bytes, `request ${i}`).toBe(256 * 1024);
      await reply.done;
    }
    expect(c.connections).toBe(1);
    c.close();
    whole.close();
  });

  it('an abort while waiting for a connection leaves at once, and the request is never sent', async () => {
    const c = new Client({ address, maxConnections: 1, multiplex: false });
    const busy = c.call({ params: { REQUEST_URI: '/busy?ms=400' } });
    await sleep(50);
    const ac = new AbortController();
    const queued = c.call({ params: { REQUEST_URI: '/never-sent' }, signal: ac.signal });
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 50);
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - t0).toBeLessThan(300);
    expect(text((await busy).stdout)).toMatch(/\/busy 0$/);
    expect(text((await c.call({ params: { REQUEST_URI: '/next' } })).stdout)).toMatch(/\/next 0$/); // the slot came back
    expect(seen.requests).not.toContain('/never-sent');
    c.close();
  });

  for (const multiplex of [false, true]) {
    it(`an abort mid-upload stops the body, ends the request at the app, and the client goes on (${multiplex ? 'multiplexed' : 'plain connection'})`, async () => {
      const c = new Client({ address, multiplex, maxConnections: 1 });
      await c.call({ params: { REQUEST_URI: '/warm' } }); // the GET_VALUES answer comes meanwhile
      await sleep(50);
      const before = seen.closedEarly;
      let pulled = 0;
      let cancelled = false;
      const endless = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          await sleep(10);
          pulled++;
          ctl.enqueue(new Uint8Array(4096));
        },
        cancel: () => void (cancelled = true),
      });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 150);
      await expect(c.call({ params: { REQUEST_URI: '/upload', REQUEST_METHOD: 'POST' }, body: endless, signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
      const pulledAtAbort = pulled;
      await sleep(100);
      expect(cancelled).toBe(true); // the body's source was let go
      expect(pulled - pulledAtAbort).toBeLessThanOrEqual(1);
      expect(seen.closedEarly).toBe(before + 1);
      expect(text((await c.call({ params: { REQUEST_URI: '/after-abort' } })).stdout)).toMatch(/\/after-abort 0$/);
      c.close();
    });
  }

  it('fetch(): a HEAD, a 204 or a local redirect lets its request finish and keeps the connection', async () => {
    // the head in one write, the rest of the body and END_REQUEST 30 ms later; ABORT_REQUEST or a close
    // from the client would show as a second connection or an abort record
    const enc = new Encoder();
    let connections = 0;
    let aborts = 0;
    const app = createNetServer((s) => {
      connections++;
      const dec = new Decoder({
        record: (type) => void (type === RecordType.ABORT_REQUEST && aborts++),
        pairs: (type, id, pairs) => {
          const uri = pairs.get('REQUEST_URI');
          if (type !== RecordType.PARAMS || uri === undefined) return; // (the empty PARAMS that ends them too)
          const head = uri.startsWith('/nocontent') ? 'Status: 204 No Content\r\n\r\n' : uri.startsWith('/go') ? 'Location: /there\r\n\r\nmoved ' : 'Content-Type: text/plain\r\n\r\npart ';
          s.write(Buffer.concat(enc.stream(RecordType.STDOUT, id, Buffer.from(head))));
          setTimeout(() => s.write(Buffer.concat([...enc.stream(RecordType.STDOUT, id, Buffer.from(uri.startsWith('/nocontent') ? '' : 'rest'), true), enc.endRequest(id, 0)])), 30);
        },
      });
      s.on('data', (d) => dec.push(d));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
    const c = new Client({ address: `127.0.0.1:${(app.address() as { port: number }).port}`, maxConnections: 1, multiplex: false });
    for (let i = 0; i < 2; i++) {
      expect((await c.fetch(new Request('http://site.test/page', { method: 'HEAD' }), { documentRoot: '/srv' })).status).toBe(200);
      expect((await c.fetch('http://site.test/nocontent', { documentRoot: '/srv' })).status).toBe(204);
      expect(await (await c.fetch('http://site.test/go', { documentRoot: '/srv' })).text()).toBe('part rest'); // /go -> /there
    }
    await sleep(100);
    expect(connections).toBe(1);
    expect(aborts).toBe(0);
    c.close();
    app.close();
  });

  it('a reader that pauses the connection is not the app going idle', async () => {
    const c = new Client({ address, multiplex: false, timeouts: { idle: 200 } });
    const reply = await c.request({ params: { REQUEST_URI: '/big' } });
    await sleep(500); // the stream fills, the connection pauses: no reply bytes for longer than `idle`
    let bytes = 0;
    for await (const chunk of reply.stdout as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
    expect(bytes).toBeGreaterThan(32 << 20);
    c.close();
  });

  it('an app that takes none of the body fails it with TIMEOUT_IDLE, and the body source is let go', async () => {
    const deaf = createNetServer((s) => s.pause()); // accepts, never reads
    await new Promise<void>((r) => deaf.listen(0, '127.0.0.1', () => r()));
    const c = new Client({ address: `127.0.0.1:${(deaf.address() as { port: number }).port}`, multiplex: false, timeouts: { idle: 200 } });
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({ pull: (ctl) => ctl.enqueue(new Uint8Array(1 << 20)), cancel: () => void (cancelled = true) });
    await expect(c.call({ params: { REQUEST_METHOD: 'POST' }, body: endless })).rejects.toMatchObject({ code: 'TIMEOUT_IDLE' });
    await sleep(20);
    expect(cancelled).toBe(true);
    c.close();
    deaf.close();
  });

  it('a request whose params the encoder refuses fails alone: its connection stays usable and expires', async () => {
    const c = new Client({ address, maxConnections: 1, multiplex: false, idleTimeout: 100 });
    await c.call({ params: { REQUEST_URI: '/ok1' } });
    await expect(c.call({ params: { REQUEST_URI: '/bad', X: undefined as unknown as string } })).rejects.toThrow();
    for (let i = 0; i < 100 && c.connections > 0; i++) await sleep(10);
    expect(c.connections).toBe(0); // it went back to the pool, and idled out
    expect(text((await c.call({ params: { REQUEST_URI: '/ok2' } })).stdout)).toMatch(/\/ok2 0$/);
    c.close();
  });

  it('close() while connecting: the request fails with CLIENT_CLOSED and nothing is left open', async () => {
    const c = new Client({ address });
    const pending = c.call({ params: { REQUEST_URI: '/closed-early' } });
    c.close();
    await expect(pending).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    await sleep(50);
    expect(c.connections).toBe(0);
    expect(seen.requests).not.toContain('/closed-early');
  });

  it('filter() with streamed data is not sent again when a kept connection loses it (the data is gone)', async () => {
    const dropper = await startDropper();
    const c = new Client({ address: dropper.address, multiplex: false, maxConnections: 1 });
    const data = () => new ReadableStream<Uint8Array>({ start: (ctl) => (ctl.enqueue(new Uint8Array(10)), ctl.close()) });
    expect(text((await c.filter({ params: { FCGI_DATA_LENGTH: '10' }, data: data() })).stdout)).toBe('hi');
    await expect(c.filter({ params: { FCGI_DATA_LENGTH: '10' }, data: data() })).rejects.toMatchObject({ code: 'BACKEND_CLOSED' });
    c.close();
    dropper.close();
  });

  it('the total timeout counts the wait for a connection', async () => {
    const c = new Client({ address, maxConnections: 1, multiplex: false, timeouts: { total: 600 } });
    const busy = c.call({ params: { REQUEST_URI: '/busy2?ms=400' } });
    const queued = c.call({ params: { REQUEST_URI: '/late?ms=400' } }); // waits ~400 ms, then would take 400 more
    await expect(queued).rejects.toMatchObject({ code: 'TIMEOUT_TOTAL' });
    await busy;
    c.close();
  });

  it('the first-byte timeout starts once a streamed body is sent, not before', async () => {
    const c = new Client({ address, multiplex: false, timeouts: { firstByte: 150 } });
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctl) {
        if (sent === 5) return ctl.close();
        await sleep(80); // 400 ms of upload in all
        sent++;
        ctl.enqueue(new Uint8Array(1000));
      },
    });
    expect(text((await c.call({ params: { REQUEST_URI: '/upload', REQUEST_METHOD: 'POST' }, body })).stdout)).toMatch(/\/upload 5000$/);
    await expect(c.call({ params: { REQUEST_URI: '/slow?ms=400' } })).rejects.toMatchObject({ code: 'TIMEOUT_FIRST_BYTE' });
    c.close();
  });

  it('the idle timeout ends a reply that stalls between records', async () => {
    const c = new Client({ address, multiplex: false, timeouts: { idle: 150 } });
    const t0 = Date.now();
    await expect(c.call({ params: { REQUEST_URI: '/stall' } })).rejects.toMatchObject({ code: 'TIMEOUT_IDLE' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    c.close();
  });

  it('sends a request lost on a kept connection again only if its method is idempotent', async () => {
    const dropper = await startDropper();
    const c = new Client({ address: dropper.address, multiplex: false, maxConnections: 1 });
    expect(text((await c.call({ params: { REQUEST_METHOD: 'POST' }, body: 'x' })).stdout)).toBe('hi');
    await expect(c.call({ params: { REQUEST_METHOD: 'POST' }, body: 'x' })).rejects.toMatchObject({ code: 'BACKEND_CLOSED' });
    expect(dropper.connections()).toBe(1); // not sent again: a POST may have run
    expect(text((await c.call({ params: { REQUEST_METHOD: 'PUT' }, body: 'x' })).stdout)).toBe('hi'); // a new connection
    expect(text((await c.call({ params: { REQUEST_METHOD: 'GET' } })).stdout)).toBe('hi'); // lost, then sent again
    expect(dropper.connections()).toBe(3);
    const asBytes: [Uint8Array, Uint8Array][] = [[Buffer.from('REQUEST_METHOD'), Buffer.from('POST')]];
    await expect(c.call({ params: asBytes, body: 'x' })).rejects.toMatchObject({ code: 'BACKEND_CLOSED' }); // a POST given as bytes too
    expect(dropper.connections()).toBe(3);
    c.close();
    dropper.close();
  });
});

describe('Client bounds on what an app can make it hold', () => {
  /** Our server as an app that writes `stderrBytes` of stderr (in 16 KiB writes), then answers `body`. */
  async function noisyApp(stderrBytes: number, body = 'done'): Promise<{ address: string; close(): Promise<void> }> {
    const server = createServer((req, res) => {
      const line = Buffer.alloc(16 * 1024, 'e');
      let left = stderrBytes;
      const more = (): void => {
        while (left > 0) {
          left -= line.length;
          if (!req.fcgi.stderr.write(line)) return void req.fcgi.stderr.once('drain', more);
        }
        res.end(body);
      };
      more();
    });
    await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1' }, () => r()));
    return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, close: () => new Promise((r) => server.close(() => r())) };
  }

  it("call() keeps the first 64 KiB of stderr and counts the rest; the 'stderr' event sees every byte", async () => {
    const app = await noisyApp(1 << 20);
    const c = new Client({ address: app.address });
    let seen = 0;
    c.on('stderr', (chunk) => (seen += chunk.length));
    const r = await c.call({ params: { REQUEST_URI: '/' } });
    expect(text(r.stdout)).toMatch(/done$/);
    expect(r.stderr.length).toBe(64 * 1024);
    expect(r.stderrDropped).toBe((1 << 20) - 64 * 1024);
    expect(seen).toBe(1 << 20);
    c.close();
    await app.close();
  });

  it('request(): stderr nobody reads never holds the reply back, and what it drops is counted', async () => {
    const app = await noisyApp(2 << 20, 'the body');
    const c = new Client({ address: app.address });
    const reply = await c.request({ params: { REQUEST_URI: '/' } });
    expect(text(new Uint8Array(await new Response(reply.stdout).arrayBuffer()))).toMatch(/the body$/);
    const { stderrDropped } = await reply.done;
    expect(stderrDropped).toBe((2 << 20) - 64 * 1024);
    let kept = 0;
    for await (const chunk of reply.stderr) kept += chunk.length;
    expect(kept).toBe(64 * 1024);
    c.close();
    await app.close();
  });

  it("fetch(): stderr reaches the 'stderr' event only, and the Response comes whole", async () => {
    const app = await noisyApp(4 << 20, 'fetched');
    const c = new Client({ address: app.address });
    let seen = 0;
    c.on('stderr', (chunk) => (seen += chunk.length));
    const res = await c.fetch('http://site.test/', { documentRoot: '/srv' });
    expect(await res.text()).toBe('fetched');
    expect(seen).toBe(4 << 20);
    c.close();
    await app.close();
  });

  it('call() fails with REPLY_TOO_LARGE past maxCollectedReply, and the client goes on', async () => {
    const big = 'x'.repeat(300_000);
    const server = createServer((req, res) => res.end(req.url === '/big' ? big : 'small'));
    await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1' }, () => r()));
    const c = new Client({ address: `127.0.0.1:${(server.address() as { port: number }).port}`, maxCollectedReply: 100_000 });
    await expect(c.call({ params: { REQUEST_URI: '/big' } })).rejects.toMatchObject({ code: 'REPLY_TOO_LARGE' });
    expect(text((await c.call({ params: { REQUEST_URI: '/small' } })).stdout)).toMatch(/small$/);
    c.close();
    await new Promise((r) => server.close(r));
  });
});
