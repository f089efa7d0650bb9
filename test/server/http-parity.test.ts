// createServer()'s server as node:http's Server: every listen() form (two of them behind real nginx),
// address(), close(cb), 'listening', 'close', the connection controls frameworks and process managers
// call, and the type: an FcgiServer is an http.Server to TypeScript (what Fastify's serverFactory asks).

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer, serve, type FcgiServer } from '../../src/server/index.js';
import { parseListenArgs } from '../../src/server/listen-args.js';
import { startNginx, freePort, type Nginx } from '../peers/nginx.js';
import { RawClient, parseCgi } from './raw-client.js';
import { currentRuntime, scriptArgv } from '../runtimes/runtime.js';

// The type bar: these compile only while FcgiServer has every member of http.Server (checked by
// `npm run typecheck`); Fastify's serverFactory must return an http.Server.
const asHttpServer = (s: FcgiServer): HttpServer => s;

const servers: FcgiServer[] = [];
const clients: RawClient[] = [];
const dirs: string[] = [];
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A server that answers `${name} ${url}`; closed after the test unless `untracked`. */
const answering = (name: string, untracked = false) => {
  const server = createServer((req, res) => res.end(`${name} ${req.url}`));
  if (!untracked) servers.push(server);
  return server;
};
const listeningOn = (server: FcgiServer) => new Promise<void>((resolve) => server.once('listening', resolve));
const portOf = (s: FcgiServer) => (s.address() as { port: number }).port;
async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fcgi-wasm-parity-'));
  dirs.push(d);
  return d;
}

describe('listen() reads its arguments as node does', () => {
  const cb = () => {};
  const handle = createNetServer();
  it.each<[string, unknown[], object]>([
    ['(port)', [9000], { port: 9000, host: '127.0.0.1' }],
    ['(numeric string, cb)', ['9000', cb], { port: 9000, host: '127.0.0.1' }],
    ['(port, host, backlog, cb)', [9000, '::1', 10, cb], { port: 9000, host: '::1', backlog: 10 }],
    ['(port, host, cb)', [9000, '127.0.0.1', cb], { port: 9000, host: '127.0.0.1' }],
    ['(port, backlog, cb)', [9000, 10, cb], { port: 9000, host: '127.0.0.1', backlog: 10 }],
    ['(path, backlog)', ['/run/app.sock', 5], { path: '/run/app.sock', backlog: 5 }],
    ['({ port })', [{ port: 0 }], { port: 0, host: '127.0.0.1' }],
    ['({ port, host, backlog })', [{ port: 0, host: '::1', backlog: 3 }], { port: 0, host: '::1', backlog: 3 }],
    ['({ path }, cb)', [{ path: '/run/app.sock' }, cb], { path: '/run/app.sock' }],
  ])('%s', (_name, args, options) => {
    const parsed = parseListenArgs(args);
    expect(parsed.kind).toBe('address');
    expect(parsed.kind === 'address' && Object.fromEntries(Object.entries(parsed.options).filter(([, v]) => v !== undefined))).toEqual(options);
    expect(parsed.callback).toBe(args.includes(cb) ? cb : undefined);
  });

  it('takes { fd } and a net.Server as handles, with a backlog', () => {
    expect(parseListenArgs([{ fd: 0 }, cb])).toEqual({ kind: 'handle', handle: { fd: 0 }, backlog: undefined, callback: cb });
    expect(parseListenArgs([handle, 64])).toEqual({ kind: 'handle', handle, backlog: 64, callback: undefined });
  });

  it('reads no address as fd 0 or CGI, and refuses what node refuses', () => {
    expect(parseListenArgs([])).toEqual({ kind: 'none', callback: undefined });
    expect(parseListenArgs([cb])).toEqual({ kind: 'none', callback: cb });
    expect(() => parseListenArgs([true])).toThrow(TypeError);
  });
});

describe('listen() forms behind nginx', () => {
  let nginx: Nginx;
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-parity-nginx-'));
  chmodSync(dir, 0o755); // nginx's workers (nobody, when run as root) reach the socket through it
  const sock = join(dir, 'app.sock');
  const forms: Record<string, FcgiServer> = {};

  beforeAll(async () => {
    const [positional, options, bare, ipv6] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const started: Promise<unknown>[] = [];
    // listen(port, host, cb): the callback is a 'listening' listener
    forms.positional = answering('positional', true);
    started.push(new Promise<void>((resolve) => forms.positional!.listen(positional, '127.0.0.1', resolve)));
    forms.options = answering('options', true);
    forms.options.listen({ port: options, host: '127.0.0.1' });
    started.push(listeningOn(forms.options));
    forms.bare = answering('bare', true);
    started.push(new Promise<void>((resolve) => forms.bare!.listen(bare, resolve)));
    forms.ipv6 = answering('ipv6', true);
    started.push(new Promise<void>((resolve) => forms.ipv6!.listen(ipv6, '::1', 16, resolve)));
    forms.unix = createServer({ socketMode: 0o666 }, (req, res) => res.end(`unix ${req.url}`));
    started.push(new Promise<void>((resolve) => forms.unix!.listen(sock, 128, resolve)));
    await Promise.all(started);
    nginx = await startNginx(
      `
      location /positional/ { fastcgi_pass 127.0.0.1:${positional}; }
      location /options/ { fastcgi_pass 127.0.0.1:${options}; }
      location /bare/ { fastcgi_pass 127.0.0.1:${bare}; }
      location /ipv6/ { fastcgi_pass [::1]:${ipv6}; }
      location /unix/ { fastcgi_pass unix:${sock}; }
      `,
    );
  });

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all(Object.values(forms).map((s) => new Promise((r) => s.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves nginx after listen(port, host, cb), listen({ port, host }), listen(port, cb), listen(port, "::1", backlog, cb) and listen(path, backlog, cb)', async () => {
    for (const name of ['positional', 'options', 'bare', 'ipv6', 'unix']) {
      const r = await fetch(nginx.url(`/${name}/x?y=1`));
      expect(`${r.status} ${await r.text()}`, name).toBe(`200 ${name} /${name}/x?y=1`);
    }
  });

  it('reports its address as node does: a bare port is bound to 127.0.0.1', () => {
    expect(forms.positional!.address()).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
    expect(forms.bare!.address()).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
    expect(forms.ipv6!.address()).toMatchObject({ address: '::1', family: 'IPv6' });
    expect(forms.unix!.address()).toBe(sock);
    expect(statSync(sock).mode & 0o777).toBe(0o666); // socketMode, set before the callback ran
  });
});

describe('the server lifecycle, as node:http', () => {
  it("emits 'listening', answers close(cb) without error, then 'close' once; a second close(cb) hears ERR_SERVER_NOT_RUNNING", async () => {
    const server = answering('a');
    expect(server.listening).toBe(false);
    const events: string[] = [];
    server.on('listening', () => events.push('listening')).on('close', () => events.push('close'));
    server.listen({ port: 0, host: '127.0.0.1' });
    await listeningOn(server);
    expect(server.listening).toBe(true);
    const err = await new Promise((resolve) => server.close(resolve));
    expect(err).toBeUndefined();
    expect(server.listening).toBe(false);
    const again = await new Promise<Error | undefined>((resolve) => server.close(resolve));
    expect(again).toMatchObject({ code: 'ERR_SERVER_NOT_RUNNING' });
    expect(events).toEqual(['listening', 'close']);
  });

  it('hears ERR_SERVER_NOT_RUNNING from close(cb) on a server that never listened', async () => {
    const err = await new Promise<Error | undefined>((resolve) => answering('never').close(resolve));
    expect(err).toMatchObject({ code: 'ERR_SERVER_NOT_RUNNING' });
  });

  it('closes when the listen signal aborts, finishing the request in flight', async () => {
    let finish: () => void = () => {};
    const server = createServer((_req, res) => (finish = () => res.end('finished')));
    servers.push(server);
    const abort = new AbortController();
    server.listen({ port: 0, host: '127.0.0.1', signal: abort.signal });
    await listeningOn(server);
    const c = await client(portOf(server));
    const reply = c.request(1, { REQUEST_URI: '/' });
    await new Promise((r) => setTimeout(r, 50));
    const closed = new Promise((resolve) => server.once('close', resolve));
    abort.abort();
    expect(server.listening).toBe(false);
    finish();
    expect(parseCgi((await reply).stdout).body).toBe('finished');
    await closed;
  });

  it('closes with `await using` (Symbol.asyncDispose)', async () => {
    const server = answering('disposed');
    server.listen(0);
    await listeningOn(server);
    await server[Symbol.asyncDispose]();
    expect(server.listening).toBe(false);
  });

  it('counts its connections (connections, getConnections) and emits each as a net.Socket', async () => {
    const server = answering('count');
    const seen: Socket[] = [];
    server.on('connection', (socket: Socket) => seen.push(socket));
    server.listen(0);
    await listeningOn(server);
    const a = await client(portOf(server));
    await client(portOf(server));
    await a.request(1, { REQUEST_URI: '/' });
    expect(server.connections).toBe(2);
    expect(await new Promise((resolve) => server.getConnections((err, n) => resolve([err, n])))).toEqual([null, 2]);
    expect(seen.map((s) => s.remoteAddress)).toEqual(['127.0.0.1', '127.0.0.1']);
  });

  it("keeps node's header, request and keep-alive settings, which the web server owns, and serves as before", async () => {
    const server = answering('settings');
    server.keepAliveTimeout = 65_000; // as guides for Node behind a load balancer say
    server.headersTimeout = 66_000;
    server.requestTimeout = 120_000;
    server.maxHeadersCount = 100;
    server.maxRequestsPerSocket = 1;
    server.listen(0);
    await listeningOn(server);
    const c = await client(portOf(server));
    for (const id of [1, 2]) expect(parseCgi((await c.request(id, { REQUEST_URI: `/${id}` })).stdout).body).toBe(`settings /${id}`);
    expect([server.keepAliveTimeout, server.headersTimeout, server.requestTimeout, server.maxHeadersCount, server.maxRequestsPerSocket]).toEqual([65_000, 66_000, 120_000, 100, 1]);
  });

  it('unref() lets the process exit while the server listens', async () => {
    const script = join(tempDir(), 'unref.mjs');
    const dist = new URL('../../dist/index.js', import.meta.url).href;
    writeFileSync(script, `import { createServer } from ${JSON.stringify(dist)};\nconst s = createServer(() => {});\ns.listen(0, () => { s.unref(); console.log('listening'); });\n`);
    const [cmd, ...args] = scriptArgv(script);
    const { stdout } = await promisify(execFile)(cmd!, args, { timeout: 20_000 });
    expect(stdout.trim()).toBe('listening');
  });
});

describe('closing connections, as node:http', () => {
  /** A server whose /hold requests wait for release(); anything else is answered at once. */
  function holding() {
    const held: (() => void)[] = [];
    let heldOne: () => void = () => {};
    const holds = new Promise<void>((resolve) => (heldOne = resolve));
    const server = createServer((req, res) => {
      if (req.url !== '/hold') return void res.end('ok');
      held.push(() => res.end('released'));
      heldOne();
    });
    servers.push(server);
    return { server, holds, release: () => held.splice(0).forEach((f) => f()) };
  }

  it('closeIdleConnections() ends the connections waiting between requests, and no other', async () => {
    const { server, release } = holding();
    server.listen(0);
    await listeningOn(server);
    const idle = await client(portOf(server));
    await idle.request(1, { REQUEST_URI: '/' });
    const busy = await client(portOf(server));
    const reply = busy.request(1, { REQUEST_URI: '/hold' });
    const fresh = await client(portOf(server)); // accepted, no request yet: its first one is on its way
    await new Promise((r) => setTimeout(r, 50));
    server.closeIdleConnections();
    await idle.closed;
    release();
    expect(parseCgi((await reply).stdout).body).toBe('released');
    expect(parseCgi((await fresh.request(1, { REQUEST_URI: '/' })).stdout).body).toBe('ok');
    expect(server.connections).toBe(2);
  });

  it('closeAllConnections() destroys every connection, requests in flight included', async () => {
    const { server } = holding();
    server.listen(0);
    await listeningOn(server);
    const busy = await client(portOf(server));
    let answered = false;
    void busy.request(1, { REQUEST_URI: '/hold' }).then(() => (answered = true));
    const idle = await client(portOf(server));
    await idle.request(1, { REQUEST_URI: '/' });
    await new Promise((r) => setTimeout(r, 50));
    server.closeAllConnections();
    await Promise.all([busy.closed, idle.closed]);
    expect(answered).toBe(false);
  });

  it("setTimeout(ms, cb) closes idle connections after ms and calls cb with each socket ('timeout')", async () => {
    const { server } = holding();
    const timedOut: (number | undefined)[] = [];
    server.setTimeout(100, (socket) => timedOut.push(socket.remotePort));
    expect(server.timeout).toBe(100);
    server.listen(0);
    await listeningOn(server);
    const c = await client(portOf(server));
    await c.request(1, { REQUEST_URI: '/' });
    const t0 = Date.now();
    await c.closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(80);
    expect(timedOut).toEqual([expect.any(Number)]); // read in the listener: the socket was still open
  });

  it('maxConnections set on the server answers FCGI_OVERLOADED past it', async () => {
    const { server, holds, release } = holding();
    expect(server.maxConnections).toBe(1024);
    server.maxConnections = 1;
    server.listen(0);
    await listeningOn(server);
    const first = await client(portOf(server));
    const held = first.request(1, { REQUEST_URI: '/hold' });
    await holds; // the first connection's request started before the second connection came
    const second = await client(portOf(server));
    expect((await second.request(1, { REQUEST_URI: '/' })).protocolStatus).toBe(2); // FCGI_OVERLOADED
    release();
    expect(parseCgi((await held).stdout).body).toBe('released');
  });
});

describe('serve() returns the same server', () => {
  it('is an http.Server to TypeScript and listens with node forms', async () => {
    const server = serve(() => new Response('fetch style'), { handleSignals: false, listen: { port: 0, host: '127.0.0.1' } });
    servers.push(server);
    await listeningOn(server);
    expect(asHttpServer(server).listening).toBe(true);
    const c = await client(portOf(server));
    expect(parseCgi((await c.request(1, { REQUEST_URI: '/' })).stdout).body).toBe('fetch style');
  });
});

// a net.Server's handle, taken over as node's listen(handle) takes it
describe('listen(handle)', () => {
  let net: NetServer;
  afterAll(() => net?.close());
  it("serves on the socket of a net.Server it is given (Bun's node:net takes only { fd })", async () => {
    net = createNetServer();
    await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
    const port = (net.address() as { port: number }).port;
    const server = answering('handle');
    if (currentRuntime() === 'bun') {
      expect(() => server.listen(net)).toThrow(/must have the property "port" or "path"/);
      return;
    }
    server.listen(net);
    await listeningOn(server);
    const c = await client(port);
    expect(parseCgi((await c.request(1, { REQUEST_URI: '/h' })).stdout).body).toBe('handle /h');
  });
});
