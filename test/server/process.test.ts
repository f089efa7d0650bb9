// The application side as a process: fcgi2's cgi-fcgi as the peer (-bind, and -connect spawning the
// app on fd 0), the same script run as CGI, SIGTERM with requests in flight, restart on change,
// FCGI_WEB_SERVER_ADDRS, a malformed stream next to a healthy connection.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, utimesSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient, parseCgi } from './raw-client.js';
import { freePort, startNginx } from '../peers/nginx.js';
import { createHash } from 'node:crypto';
import { currentRuntime, scriptArgv } from '../runtimes/runtime.js';

const APP = fileURLToPath(new URL('../fixtures/apps/app.mjs', import.meta.url));
const started: ChildProcess[] = [];
const pids: number[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fcgi-wasm-proc-'));
  dirs.push(d);
  return d;
}

/** Starts the fixture app on a TCP port and waits for it to listen. */
async function startApp(env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number; stderr: () => string; exited: Promise<number | null> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [APP, 'tcp', String(port)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 100 && !err.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50));
  expect(err).toContain('listening');
  return { child, port, stderr: () => err, exited };
}

const cgiEnv = { REQUEST_METHOD: 'GET', REQUEST_URI: '/env?a=1', QUERY_STRING: 'a=1', SERVER_PROTOCOL: 'HTTP/1.1', HTTP_HOST: 'h.test' };

describe('with fcgi2 cgi-fcgi as the web server', () => {
  it('answers cgi-fcgi -bind over TCP', async () => {
    const { port } = await startApp();
    const r = spawnSync('cgi-fcgi', ['-bind', '-connect', `127.0.0.1:${port}`], { env: cgiEnv, encoding: 'latin1', timeout: 10_000 });
    const res = parseCgi(Buffer.from(r.stdout, 'latin1'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ REQUEST_URI: '/env?a=1', HTTP_HOST: 'h.test' });
  });

  it('is spawned by cgi-fcgi -connect with the listening socket on fd 0', async () => {
    const dir = tempDir();
    const sock = join(dir, 'app.sock');
    const pidFile = join(dir, 'app.pid');
    // cgi-fcgi starts the app (appPath, no arguments) with the socket as fd 0 when nothing listens there
    const script = join(dir, 'app.sh');
    // the app in the runtime running this suite (Deno's command line differs from Node's and Bun's)
    writeFileSync(script, `#!/bin/sh\nexec ${scriptArgv(APP).map((a) => `"${a}"`).join(' ')}\n`, { mode: 0o755 });
    const r = spawnSync('cgi-fcgi', ['-connect', sock, script], {
      env: { ...cgiEnv, APP_PID_FILE: pidFile, PATH: process.env.PATH! },
      encoding: 'latin1',
      timeout: 15_000,
    });
    for (let i = 0; i < 50 && !existsSync(pidFile); i++) await new Promise((res) => setTimeout(res, 50));
    pids.push(Number(readFileSync(pidFile, 'utf8')));
    expect(parseCgi(Buffer.from(r.stdout, 'latin1')).body).toContain('"REQUEST_URI":"/env?a=1"');
    // and it keeps serving on the inherited socket
    const again = spawnSync('cgi-fcgi', ['-bind', '-connect', sock], { env: { ...cgiEnv, REQUEST_URI: '/hi' }, encoding: 'latin1', timeout: 10_000 });
    expect(parseCgi(Buffer.from(again.stdout, 'latin1')).body).toBe('hello\n');
  });
});

describe('as a plain CGI program', () => {
  for (const style of ['node', 'fetch'] as const) {
    it(`answers one request from the environment and stdin (${style} style)`, () => {
      const r = spawnSync(process.execPath, [APP], {
        env: { PATH: process.env.PATH!, GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'POST', REQUEST_URI: '/echo', CONTENT_LENGTH: '5', SERVER_PROTOCOL: 'HTTP/1.1', HTTP_HOST: 'x', APP_STYLE: style },
        input: 'hello and more',
        encoding: 'latin1',
        timeout: 10_000,
      });
      expect(r.status).toBe(0);
      const res = parseCgi(Buffer.from(r.stdout, 'latin1'));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.body).toBe('hello');
    });
  }
});

describe('lifecycle', () => {
  for (const style of ['node', 'fetch'] as const) {
    it(`finishes 100 requests in flight on SIGTERM, then exits 0 (${style} style)`, async () => {
      const { child, port, exited, stderr } = await startApp({ APP_STYLE: style });
      const clients = await Promise.all(Array.from({ length: 10 }, () => RawClient.connect(port)));
      const replies = clients.flatMap((c) => Array.from({ length: 10 }, (_, i) => c.request(i + 1, { REQUEST_METHOD: 'GET', REQUEST_URI: '/slow?ms=1500' })));
      // all 100 must have reached the app before the signal (a loaded machine can take a while)
      await new Promise((r) => setTimeout(r, 700));
      // by pid: Deno's ChildProcess.kill() reports the signal as the cause of exit even when the child exits 0
      process.kill(child.pid!, 'SIGTERM');
      const done = await Promise.all(replies);
      expect(done.map((r) => parseCgi(r.stdout).body)).toEqual(new Array(100).fill('hello\n'));
      expect(await exited).toBe(0);
      expect(stderr()).toContain('SIGTERM: finishing 100 request(s)');
      clients.forEach((c) => c.close());
    });
  }

  it('exits after the current request when its watched file changes', async () => {
    const dir = tempDir();
    const watched = join(dir, 'version');
    writeFileSync(watched, '1');
    const { port, exited } = await startApp({ APP_RESTART_ON: watched });
    const c = await RawClient.connect(port);
    expect(parseCgi((await c.request(1, { REQUEST_URI: '/' })).stdout).body).toBe('hello\n');
    const later = new Date(Date.now() + 5000);
    utimesSync(watched, later, later);
    expect(parseCgi((await c.request(1, { REQUEST_URI: '/' })).stdout).body).toBe('hello\n');
    expect(await exited).toBe(0);
    c.close();
  });

  it('refuses TCP peers outside FCGI_WEB_SERVER_ADDRS', async () => {
    const { port, stderr } = await startApp({ FCGI_WEB_SERVER_ADDRS: '::1' });
    const c = await RawClient.connect(port);
    await c.closed;
    expect(stderr()).toContain('refused a connection from 127.0.0.1');
    const allowed = await startApp({ FCGI_WEB_SERVER_ADDRS: '127.0.0.1, ::1' });
    const ok = await RawClient.connect(allowed.port);
    expect(parseCgi((await ok.request(1, { REQUEST_URI: '/' })).stdout).body).toBe('hello\n');
    ok.close();
  });

  it('closes a connection that sends garbage, and serves the others undisturbed', async () => {
    const { port, stderr, child } = await startApp();
    const good = await RawClient.connect(port);
    const slow = good.request(1, { REQUEST_URI: '/slow?ms=300' });
    const bad = await RawClient.connect(port);
    bad.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await bad.closed;
    expect(parseCgi((await slow).stdout).body).toBe('hello\n');
    expect(stderr()).toMatch(/closed a connection from 127\.0\.0\.1: BAD_VERSION/);
    expect(child.exitCode).toBeNull();
    good.close();
  });
});

describe('a 1 GiB request body through nginx', () => {
  it('is streamed to a hashing handler with the app under 100 MB of RSS', async () => {
    const { child, port } = await startApp();
    const nginx = await startNginx(`location /up/ { fastcgi_request_buffering off; fastcgi_pass 127.0.0.1:${port}; }`);
    try {
      const chunk = Buffer.alloc(1 << 20);
      for (let i = 0; i < chunk.length; i += 997) chunk[i] = i & 255;
      const total = 1024;
      const expected = createHash('sha256');
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent === total) return c.close();
          sent++;
          expected.update(chunk);
          c.enqueue(chunk);
        },
      });
      const r = await fetch(nginx.url('/up/hash'), { method: 'POST', body, duplex: 'half' } as RequestInit);
      expect(await r.text()).toBe(`${total << 20} ${expected.digest('hex')}`);
      const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;
      console.log(`1 GiB body: app peak RSS ${(peak / 2 ** 20).toFixed(1)} MiB`);
      // The bar (100 MB) is Node's, where the app is measured for it. Bun's and Deno's collectors free
      // the network buffers later (Bun peaks near 98 MB from a 38 MB start): there the bound only
      // proves the body streams (a buffered 1 GiB body would be over 1 GB).
      expect(peak).toBeLessThan((currentRuntime() === 'node' ? 100 : 160) << 20);
    } finally {
      await nginx.stop();
    }
  }, 120_000);
});
