// Faults on the application side: a web server that vanishes mid-body or mid-response, limits that
// refuse politely (OVERLOADED, idle timeout), slow readers that do not stall their neighbours, and
// 10,000 requests without the process growing.

import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type FcgiServer } from '../../src/server/index.js';
import { Encoder, RecordType, Role, Flags } from '../../src/codec/index.js';
import { RawClient, parseCgi } from './raw-client.js';

const servers: FcgiServer[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
async function start(server: FcgiServer): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1' }, () => r()));
  return (server.address() as { port: number }).port;
}
async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}
const enc = new Encoder();
const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
  for (let t = 0; t < ms && !cond(); t += 10) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
};

describe('faults', () => {
  it('a web server that hangs up mid-body aborts only that request', async () => {
    const events: string[] = [];
    const port = await start(
      createServer((req, res) => {
        req.on('aborted', () => events.push(`aborted ${req.url}`));
        req.on('data', () => {});
        req.on('end', () => res.end('done'));
      }),
    );
    const quitter = await client(port);
    quitter.write(Buffer.concat([enc.beginRequest(1, Role.RESPONDER, Flags.KEEP_CONN), enc.pairs(1, { REQUEST_URI: '/upload', REQUEST_METHOD: 'POST' }), ...enc.stream(RecordType.STDIN, 1, new Uint8Array(1000))]));
    await new Promise((r) => setTimeout(r, 50));
    quitter.close();
    await until(() => events.length === 1);
    expect(events).toEqual(['aborted /upload']);
    const other = await client(port);
    expect(parseCgi((await other.request(1, { REQUEST_URI: '/x', REQUEST_METHOD: 'POST' }, new Uint8Array(10))).stdout).body).toBe('done');
  });

  it('a web server that hangs up mid-response closes the response and nothing else', async () => {
    let closed = false;
    const port = await start(
      createServer((req, res) => {
        if (req.url === '/stream') {
          const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024, 'y')), 5);
          res.on('close', () => {
            closed = true;
            clearInterval(timer);
          });
          return;
        }
        res.end('still here');
      }),
    );
    const leaving = await client(port);
    void leaving.request(1, { REQUEST_URI: '/stream' });
    await new Promise((r) => setTimeout(r, 100));
    leaving.close();
    await until(() => closed);
    const c = await client(port);
    expect(parseCgi((await c.request(1, { REQUEST_URI: '/' })).stdout).body).toBe('still here');
  });

  it('a handler that writes and ends after the web server hung up changes nothing', async () => {
    const late: string[] = [];
    const port = await start(
      createServer((req, res) => {
        if (req.url !== '/late') return void res.end('still here');
        res.write(Buffer.alloc(4 << 20, 'z')); // more than the socket takes: the rest waits for a drain
        setTimeout(() => {
          try {
            res.write('more');
            res.end('late');
            late.push('ended');
          } catch (err) {
            late.push(`threw ${(err as Error).message}`);
          }
        }, 100);
      }),
    );
    const leaving = await client(port);
    leaving.write(Buffer.concat([enc.beginRequest(1, Role.RESPONDER), enc.pairs(1, { REQUEST_URI: '/late' }), enc.pairs(1, {}), enc.record(RecordType.STDIN, 1)]));
    await new Promise((r) => setTimeout(r, 30));
    leaving.close();
    await until(() => late.length === 1);
    expect(late).toEqual(['ended']);
    await until(() => servers[0]!.connectionCount === 0);
    const c = await client(port);
    expect(parseCgi((await c.request(1, { REQUEST_URI: '/' })).stdout).body).toBe('still here');
  });

  it('a slow reader does not stall the other requests on its connection', async () => {
    let lazy: { end(): void } | null = null;
    const port = await start(
      createServer((req, res) => {
        if (req.url === '/lazy') return void (lazy = res); // reads none of its body, answers at the end of the test
        res.end(`quick ${req.url}`);
      }),
    );
    const c = await client(port);
    const lazyReply = c.request(1, { REQUEST_URI: '/lazy', REQUEST_METHOD: 'POST' }, new Uint8Array(300_000));
    const quick = await Promise.all([2, 3, 4].map((id) => c.request(id, { REQUEST_URI: `/q${id}` })));
    expect(quick.map((r) => parseCgi(r.stdout).body)).toEqual(['quick /q2', 'quick /q3', 'quick /q4']);
    lazy!.end();
    expect((await lazyReply).protocolStatus).toBe(0);
  });

  it('answers OVERLOADED past maxConnections while every connection is busy, and serves again once one is free', async () => {
    let release: (() => void) | null = null;
    const port = await start(
      createServer({ maxConnections: 1 }, (req, res) => {
        if (req.url === '/slow') release = () => res.end('slow done');
        else res.end('ok');
      }),
    );
    const first = await client(port);
    const slow = first.request(1, { REQUEST_URI: '/slow' });
    await until(() => release !== null); // the handler holds the request
    const second = await client(port);
    const refused = await second.request(1, { REQUEST_URI: '/' });
    expect(refused.protocolStatus).toBe(2);
    release!();
    expect(parseCgi((await slow).stdout).body).toBe('slow done');
    first.close();
    await first.closed;
    await new Promise((r) => setTimeout(r, 50));
    // the refused connection was kept (KEEP_CONN) and is served now that it is within the limit
    expect(parseCgi((await second.request(2, { REQUEST_URI: '/' })).stdout).body).toBe('ok');
  });

  it('admits a connection at maxConnections by closing the one idle longest, never one with a request open', async () => {
    let release = (): void => {};
    const port = await start(
      createServer({ maxConnections: 3 }, (req, res) => {
        if (req.url === '/slow') release = () => res.end('slow done');
        else res.end('ok');
      }),
    );
    const busy = await client(port);
    const slow = busy.request(1, { REQUEST_URI: '/slow' });
    const idleOld = await client(port);
    await idleOld.request(1, { REQUEST_URI: '/' });
    await new Promise((r) => setTimeout(r, 20));
    const idleNew = await client(port);
    await idleNew.request(1, { REQUEST_URI: '/' });
    let oldClosed = false;
    void idleOld.closed.then(() => (oldClosed = true));
    const newcomer = await client(port);
    expect(parseCgi((await newcomer.request(1, { REQUEST_URI: '/' })).stdout).body).toBe('ok');
    await until(() => oldClosed);
    // the newer idle connection and the busy one are untouched
    expect(parseCgi((await idleNew.request(2, { REQUEST_URI: '/' })).stdout).body).toBe('ok');
    release();
    expect(parseCgi((await slow).stdout).body).toBe('slow done');
  });

  it('closes a connection that sends no complete request head within handshakeTimeout, and only that one', async () => {
    const logged: string[] = [];
    const port = await start(createServer({ handshakeTimeout: 200, log: (m) => logged.push(m) }, (_q, s) => s.end('ok')));
    const silent = await client(port);
    const partial = await client(port);
    // BEGIN_REQUEST and part of the params: the head never completes
    partial.write(Buffer.concat([enc.beginRequest(1, Role.RESPONDER, Flags.KEEP_CONN), enc.pairs(1, { REQUEST_URI: '/' }).subarray(0, 12)]));
    const working = await client(port);
    const t0 = Date.now();
    expect(parseCgi((await working.request(1, { REQUEST_URI: '/' })).stdout).body).toBe('ok');
    await Promise.all([silent.closed, partial.closed]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(logged.join('\n')).toContain('HANDSHAKE_TIMEOUT');
    // a kept connection whose heads all completed is idle, not stalled: it stays
    await new Promise((r) => setTimeout(r, 400));
    expect(parseCgi((await working.request(2, { REQUEST_URI: '/' })).stdout).body).toBe('ok');
  });

  it('closes an idle connection after idleTimeout', async () => {
    const port = await start(createServer({ idleTimeout: 100 }, (_q, s) => s.end('ok')));
    const c = await client(port);
    await c.request(1, { REQUEST_URI: '/' });
    const t0 = Date.now();
    await c.closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(80);
  });

  it('serves 10,000 sequential requests on one connection without growing', async () => {
    const port = await start(createServer((req, res) => res.end(`r ${req.url}`)));
    const c = await client(port);
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = await c.request(1, { REQUEST_URI: `/${i}` });
        if (i % 1000 === 0) expect(parseCgi(r.stdout).body).toBe(`r /${i}`);
      }
    };
    await run(2000); // warm up: JIT, pools
    global.gc?.();
    const before = process.memoryUsage().rss;
    await run(10_000);
    global.gc?.();
    const grown = process.memoryUsage().rss - before;
    expect(grown).toBeLessThan(40 << 20);
  });
});
