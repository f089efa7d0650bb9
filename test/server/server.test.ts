// The application side over real sockets, with both handler styles.

import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { createServer, serve, type FcgiServer } from '../../src/server/index.js';
import { RecordType, Role, Encoder, Flags } from '../../src/codec/index.js';
import { RawClient, parseCgi } from './raw-client.js';

const servers: FcgiServer[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function listening(server: FcgiServer): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, () => resolve((server.address() as { port: number }).port)));
}
async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}
const GET = (uri: string, extra: Record<string, string> = {}) => ({
  REQUEST_METHOD: 'GET', REQUEST_URI: uri, SCRIPT_NAME: uri.split('?')[0]!, QUERY_STRING: uri.split('?')[1] ?? '',
  SERVER_PROTOCOL: 'HTTP/1.1', HTTP_HOST: 'example.test', REMOTE_ADDR: '127.0.0.1', ...extra,
});

describe('createServer (node:http style)', () => {
  it('answers with status, headers and body as a CGI response', async () => {
    const port = await listening(
      createServer((req, res) => {
        res.statusCode = 201;
        res.setHeader('X-Url', req.url!);
        res.setHeader('X-Agent', String(req.headers['user-agent']));
        res.setHeader('X-Params', `${req.params.REQUEST_URI} ${req.params.HTTP_HOST}`);
        res.end(`hello ${req.method} ${req.fcgi.params.get('QUERY_STRING')}`);
      }),
    );
    const c = await client(port);
    const reply = await c.request(1, GET('/a?x=1', { HTTP_USER_AGENT: 'ua/1' }));
    const r = parseCgi(reply.stdout);
    expect(r.status).toBe(201);
    expect(r.headers['x-url']).toBe('/a?x=1');
    expect(r.headers['x-agent']).toBe('ua/1');
    expect(r.headers['x-params']).toBe('/a?x=1 example.test'); // req.params: the CGI params
    expect(r.headers).not.toHaveProperty('connection');
    expect(r.headers).not.toHaveProperty('date');
    expect(r.body).toBe('hello GET x=1');
    expect(reply.appStatus).toBe(0);
  });

  it('sends a small response as one STDOUT record, and a response written over time as it is written', async () => {
    const port = await listening(
      createServer((req, res) => {
        res.setHeader('Content-Type', 'text/plain');
        if (req.url === '/small') return void res.end('hello');
        res.write('first ');
        setTimeout(() => res.end('second'), 50);
      }),
    );
    const c = await client(port);
    const small = await c.request(1, GET('/small'));
    expect(parseCgi(small.stdout).body).toBe('hello');
    expect(small.stdoutRecords).toBe(1); // the head and the body, with the stream's end and END_REQUEST
    const slow = await c.request(2, GET('/slow'));
    expect(parseCgi(slow.stdout).body).toBe('first second');
    expect(slow.stdoutRecords).toBe(2);
  });

  it('streams a request body to the handler and answers many requests multiplexed on one connection', async () => {
    const port = await listening(
      createServer((req, res) => {
        const hash = createHash('sha256');
        req.on('data', (c) => hash.update(c));
        req.on('end', () => res.end(hash.digest('hex')));
      }),
    );
    const c = await client(port);
    const bodies = [1, 2, 3, 4, 5].map((n) => Buffer.alloc(n * 70_000, n));
    const replies = await Promise.all(bodies.map((b, i) => c.request(i + 1, { REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(b.length) }, b)));
    replies.forEach((r, i) => expect(parseCgi(r.stdout).body).toBe(createHash('sha256').update(bodies[i]!).digest('hex')));
  });

  it('turns a thrown error into a 500 with the stack on stderr, and keeps serving', async () => {
    const port = await listening(
      createServer((req, res) => {
        if (req.url === '/boom') throw new Error('kaboom');
        res.end('fine');
      }),
    );
    const c = await client(port);
    const bad = await c.request(1, GET('/boom'));
    expect(parseCgi(bad.stdout).status).toBe(500);
    expect(bad.stderr.toString()).toContain('kaboom');
    const good = await c.request(2, GET('/ok'));
    expect(parseCgi(good.stdout).body).toBe('fine');
  });

  it('lets the handler write stderr and set the app status', async () => {
    const port = await listening(
      createServer((req, res) => {
        req.fcgi.stderr.write('warning: something\n');
        req.fcgi.appStatus = 3;
        res.end('x');
      }),
    );
    const c = await client(port);
    const r = await c.request(1, GET('/'));
    expect(r.stderr.toString()).toBe('warning: something\n');
    expect(r.appStatus).toBe(3);
  });

  it('refuses CR/LF in a header value (no header injection)', async () => {
    const port = await listening(
      createServer((_req, res) => {
        res.setHeader('X-Evil', 'a\r\nSet-Cookie: x=1');
        res.end('never');
      }),
    );
    const c = await client(port);
    const r = await c.request(1, GET('/'));
    expect(parseCgi(r.stdout).status).toBe(500);
    expect(r.stdout.toString()).not.toContain('Set-Cookie');
    expect(r.stderr.toString()).toMatch(/Invalid character in header content/);
  });

  it('fires aborted and close on FCGI_ABORT_REQUEST, then sends END_REQUEST', async () => {
    const events: string[] = [];
    const port = await listening(
      createServer((req) => {
        req.on('aborted', () => events.push('aborted'));
        req.on('close', () => events.push('close'));
      }),
    );
    const c = await client(port);
    const reply = c.request(1, GET('/slow'));
    await new Promise((r) => setTimeout(r, 50));
    c.write(new Encoder().abortRequest(1));
    const r = await reply;
    expect(r.protocolStatus).toBe(0);
    expect(events).toEqual(['aborted', 'close']);
  });

  it('answers FCGI_GET_VALUES and unknown management types', async () => {
    const port = await listening(createServer({ maxRequests: 7 }, (_q, s) => s.end()));
    const c = await client(port);
    const enc = new Encoder();
    c.write(enc.getValues(['FCGI_MAX_REQS', 'FCGI_MPXS_CONNS', 'NOPE']));
    c.write(enc.record(42, 0, new Uint8Array(3)));
    await new Promise((r) => setTimeout(r, 100));
    expect(c.others.map((o) => o.type)).toEqual([RecordType.GET_VALUES_RESULT, RecordType.UNKNOWN_TYPE]);
    expect(Buffer.from(c.others[0]!.content).toString('latin1')).toBe('\x0d\x01FCGI_MAX_REQS7\x0f\x01FCGI_MPXS_CONNS1');
    expect(c.others[1]!.content[0]).toBe(42);
  });

  it('passes the Filter role its DATA stream', async () => {
    const port = await listening(
      createServer((req, res) => {
        const parts: Buffer[] = [];
        req.fcgi.data!.on('data', (d) => parts.push(d));
        req.fcgi.data!.on('end', () => res.end(Buffer.concat(parts).toString().toUpperCase()));
      }),
    );
    const c = await client(port);
    const r = await c.request(1, { FCGI_DATA_LENGTH: '4' }, new Uint8Array(0), { role: Role.FILTER, data: Buffer.from('data') });
    expect(parseCgi(r.stdout).body).toBe('DATA');
  });
});

describe('the Filter role', () => {
  it('errors the DATA stream when it is not FCGI_DATA_LENGTH bytes long', async () => {
    let error: unknown;
    const port = await listening(
      createServer((req, res) => {
        req.fcgi.data!.on('error', (e) => {
          error = e;
          res.statusCode = 502;
          res.end('bad data');
        });
        req.fcgi.data!.resume();
      }),
    );
    const c = await client(port);
    const r = await c.request(1, { FCGI_DATA_LENGTH: '10' }, new Uint8Array(0), { role: Role.FILTER, data: Buffer.from('data') });
    expect(parseCgi(r.stdout).status).toBe(502);
    expect(error).toMatchObject({ code: 'DATA_LENGTH_MISMATCH', message: 'FCGI_DATA_LENGTH said 10 bytes, the FCGI_DATA stream had 4' });
  });

  it('works with server.on("request") like node:http', async () => {
    const server = createServer();
    server.on('request', (_req, res) => res.end('via event'));
    const port = await listening(server);
    const c = await client(port);
    expect(parseCgi((await c.request(1, { REQUEST_URI: '/' })).stdout).body).toBe('via event');
  });
});

describe('serve (fetch style)', () => {
  it('builds a Request from the params and writes the Response', async () => {
    const server = serve(
      async (request, info) => {
        const body = request.method === 'POST' ? await request.text() : '';
        return new Response(`${request.method} ${request.url} ${body} ${info.params.get('REMOTE_ADDR')}`, {
          status: 202,
          headers: [['X-A', '1'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']],
        });
      },
      { handleSignals: false, listen: { port: 0, host: '127.0.0.1' } },
    );
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    const c = await client((server.address() as { port: number }).port);
    const r = await c.request(1, { ...GET('/p?q=2'), REQUEST_METHOD: 'POST', CONTENT_TYPE: 'text/plain', CONTENT_LENGTH: '4' }, Buffer.from('body'));
    const text = r.stdout.toString();
    expect(text).toMatch(/^Status: 202 Accepted\r\n/);
    expect(text).toContain('set-cookie: a=1\r\nset-cookie: b=2\r\n');
    expect(parseCgi(r.stdout).body).toBe('POST http://example.test/p?q=2 body 127.0.0.1');
  });

  it('writes a streamed Response body as it is produced, and one in hand with END_REQUEST', async () => {
    const server = serve(
      (request) => {
        if (request.url.endsWith('/whole')) return new Response('hello');
        const body = new ReadableStream<Uint8Array>({
          async start(c) {
            c.enqueue(new TextEncoder().encode('first '));
            await new Promise((r) => setTimeout(r, 400));
            c.enqueue(new TextEncoder().encode('second'));
            c.close();
          },
        });
        return new Response(body);
      },
      { handleSignals: false, listen: { port: 0, host: '127.0.0.1' } },
    );
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    const c = await client(port);
    const whole = await c.request(1, GET('/whole'));
    expect(parseCgi(whole.stdout).body).toBe('hello');
    expect(whole.stdoutRecords).toBe(2); // the head, then the body with the stream's end and END_REQUEST
    // the first chunk must reach the web server long before the second is produced
    const raw = connect(port, '127.0.0.1');
    const arrivals: { at: number; bytes: number }[] = [];
    raw.on('data', (d: Buffer) => arrivals.push({ at: Date.now(), bytes: d.length }));
    const ended = new Promise((r) => raw.once('end', r));
    raw.write(c.requestBytes(1, GET('/streamed'), undefined, { keep: false }));
    await ended;
    expect(arrivals.length).toBeGreaterThan(1);
    expect(arrivals.at(-1)!.at - arrivals[0]!.at).toBeGreaterThan(250);
  });

  it("gives the handler an info whose stderr and setAppStatus work detached, and whose signal aborts when the web server hangs up", async () => {
    let hungUp: Promise<boolean> = Promise.resolve(false);
    const server = serve(
      (request, info) => {
        const { stderr, setAppStatus, signal, requestId } = info;
        if (request.url.endsWith('/wait')) {
          hungUp = new Promise((r) => signal.addEventListener('abort', () => r(true)));
          return new Promise<Response>(() => {}); // never answers
        }
        stderr(`request ${requestId}\n`);
        setAppStatus(7);
        return new Response(`signal aborted: ${signal.aborted}; data: ${'data' in info}`);
      },
      { handleSignals: false, listen: { port: 0, host: '127.0.0.1' } },
    );
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    const r = await (await client(port)).request(3, GET('/'));
    expect(parseCgi(r.stdout).body).toBe('signal aborted: false; data: false');
    expect(r.stderr.toString()).toBe('request 3\n');
    expect(r.appStatus).toBe(7);
    // a hang-up with the request's input cut short (its STDIN never ended): the request is aborted
    const leaving = await client(port);
    const enc = new Encoder();
    leaving.write(Buffer.concat([enc.beginRequest(1, Role.RESPONDER, Flags.KEEP_CONN), enc.pairs(1, { ...GET('/wait'), REQUEST_METHOD: 'POST' }), ...enc.stream(RecordType.STDIN, 1, new Uint8Array(10))]));
    await new Promise((r) => setTimeout(r, 100));
    leaving.close();
    expect(await hungUp).toBe(true);
  });

  it('aborts the handler signal and request.signal on FCGI_ABORT_REQUEST', async () => {
    let aborted: Promise<boolean> = Promise.resolve(false);
    let request: Request | null = null;
    const server = serve(
      (req, info) => {
        request = req;
        aborted = new Promise((r) => info.signal.addEventListener('abort', () => r(true)));
        return new Promise<Response>(() => {});
      },
      { handleSignals: false, listen: { port: 0, host: '127.0.0.1' } },
    );
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    const c = await client((server.address() as { port: number }).port);
    const reply = c.request(1, GET('/'));
    await new Promise((r) => setTimeout(r, 50));
    c.write(new Encoder().abortRequest(1));
    expect((await reply).protocolStatus).toBe(0);
    expect(await aborted).toBe(true);
    expect(request!.signal.aborted).toBe(true);
    expect(request!.signal.reason).toBeInstanceOf(Error);
    expect(request!.signal).toBe(request!.signal); // one signal, made once
  });
});
