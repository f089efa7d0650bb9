// `fcgi request` as a user runs it, against fcgi2's C app, php-fpm and our own server: its output byte
// for byte against fcgi2's own client (`cgi-fcgi -bind -connect`, given the same params and body), the
// parsed forms (--include, --body-only, --json), the roles, and the exit statuses.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, type FcgiServer } from '../../src/server/index.js';
import { Encoder } from '../../src/codec/index.js';
import { Role } from '../../src/codec/constants.js';
import { startFcgi2App, type Fcgi2App } from '../peers/fcgi2-app.js';
import { startPhpFpm, type PhpFpm } from '../peers/php-fpm.js';
import { cgiFcgi, fcgi } from './run-cli.js';

const PHP_ROOT = fileURLToPath(new URL('../fixtures/php', import.meta.url));
let c: Fcgi2App;
let php: PhpFpm;
let ours: FcgiServer;
let oursAddr: string;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fcgi-request-test-'));
  [c, php] = await Promise.all([startFcgi2App(), startPhpFpm({ children: 1 })]);
  ours = serve(
    async (request, info) => {
      const path = new URL(request.url).pathname;
      if (info.role === Role.AUTHORIZER) {
        const ok = (request.headers.get('cookie') ?? '').includes('session=let-me-in');
        return ok ? new Response(null, { headers: { 'Variable-User': 'ann' } }) : new Response('who are you?\n', { status: 403 });
      }
      if (info.role === Role.FILTER) return new Response((await new Response(info.data).text()).toUpperCase());
      if (path === '/teapot') {
        info.setAppStatus(3);
        info.stderr('brewing\n');
        return new Response('short and stout\n', { status: 418, headers: { 'X-Pot': 'yes' } });
      }
      if (path === '/echo') return new Response(await request.arrayBuffer(), { headers: { 'Content-Type': 'application/octet-stream' } });
      return new Response(`${request.method} ${path} ${new URL(request.url).search}\n`, { headers: { 'Content-Type': 'text/plain' } });
    },
    { listen: join(dir, 'ours.sock'), handleSignals: false, log: () => {} },
  );
  await new Promise((r) => ours.once('listening', r));
  oursAddr = join(dir, 'ours.sock');
}, 30_000);

afterAll(async () => {
  await Promise.all([c?.stop(), php?.stop(), new Promise((r) => ours?.close(r))]);
  rmSync(dir, { recursive: true, force: true });
});

/** The params `fcgi request` would send for these arguments. */
async function paramsFor(args: string[]): Promise<Record<string, string>> {
  const r = await fcgi(['request', '--dry-run', '--json', ...args]);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as Record<string, string>;
}

/** Runs `fcgi request` and cgi-fcgi with the same params and body; both outputs and statuses. */
async function bothClients(address: string, args: string[], body?: string) {
  const params = await paramsFor(args);
  const [ours, theirs] = await Promise.all([fcgi(['request', '--connect', address, ...args]), cgiFcgi(address, params, body)]);
  return { ours, theirs, params };
}

describe('fcgi request, byte for byte with cgi-fcgi -bind -connect', () => {
  it('fcgi2 C app: the params it received, with a query string and --param', async () => {
    const { ours, theirs } = await bothClients(c.address, ['--param', 'EXTRA=1', '--header', 'Accept: text/plain', '/params?x=1&y=two']);
    expect(ours.code).toBe(0);
    expect(theirs.code).toBe(0);
    expect(ours.out).toContain('QUERY_STRING=x=1&y=two\n');
    expect(ours.out).toContain('EXTRA=1\n');
    expect(ours.out).toContain('HTTP_ACCEPT=text/plain\n');
    // cgi-fcgi sends its environment in the order the test runner's runtime hands it to the child
    // (Deno reorders it), so the params listing is compared line by line, sorted
    const lines = (b: Buffer): string[] => b.toString('latin1').split('\n').sort();
    expect(lines(ours.stdout)).toEqual(lines(theirs.stdout));
  });

  it('fcgi2 C app: a POST body echoed, a Status header, stderr', async () => {
    const body = 'name=value&' + 'x'.repeat(70_000); // more than one STDIN record
    const file = join(dir, 'body.txt');
    writeFileSync(file, body);
    const echo = await bothClients(c.address, ['--data', `@${file}`, '/echo'], body);
    expect(echo.params.CONTENT_LENGTH).toBe(String(body.length));
    expect(echo.params.REQUEST_METHOD).toBe('POST');
    expect(echo.ours.out.endsWith(body)).toBe(true);
    expect(echo.ours.stdout.equals(echo.theirs.stdout)).toBe(true);

    const status = await bothClients(c.address, ['/status']);
    expect(status.ours.out).toBe('Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot here\n');
    expect(status.ours.stdout.equals(status.theirs.stdout)).toBe(true);

    const stderr = await bothClients(c.address, ['/stderr']);
    expect(stderr.ours.stdout.equals(stderr.theirs.stdout)).toBe(true);
    expect(stderr.ours.err).toBe('a line on stderr\n');
    expect(stderr.ours.stderr.equals(stderr.theirs.stderr)).toBe(true);
  });

  it('php-fpm: a PHP script under --root', async () => {
    const { ours, theirs, params } = await bothClients(php.address, ['--root', PHP_ROOT, '/index.php/extra?a=1']);
    expect(params.SCRIPT_FILENAME).toBe(`${PHP_ROOT}/index.php`);
    expect(params.PATH_INFO).toBe('/extra');
    expect(ours.code).toBe(0);
    expect(ours.out).toMatch(/^Content-type: application\/json/i);
    expect(JSON.parse(ours.out.split('\r\n\r\n')[1]!)).toMatchObject({ method: 'GET', uri: '/index.php/extra?a=1', path_info: '/extra', query: { a: '1' } });
    expect(ours.stdout.equals(theirs.stdout)).toBe(true);
  });

  it('our server: status, headers, stderr and the appStatus as the exit status, as cgi-fcgi reports them', async () => {
    const { ours: o, theirs } = await bothClients(oursAddr, ['/teapot']);
    expect(o.out).toContain('Status: 418');
    expect(o.out.endsWith('\r\n\r\nshort and stout\n')).toBe(true);
    expect(o.stdout.equals(theirs.stdout)).toBe(true);
    expect(o.err).toBe('brewing\n');
    expect(o.code).toBe(3);
    expect(theirs.code).toBe(3);
  });
});

describe('fcgi request, parsed output', () => {
  it('--include prints an HTTP status line and the headers; --body-only the body alone', async () => {
    const inc = await fcgi(['request', '--connect', c.address, '--include', '/status']);
    expect(inc.out).toBe('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot here\n');
    const body = await fcgi(['request', '--connect', oursAddr, '--body-only', '/teapot']);
    expect(body.out).toBe('short and stout\n');
    expect(body.code).toBe(3);
  });

  it('--json gives status, headers, body, stderr and appStatus', async () => {
    const r = await fcgi(['request', '--connect', oursAddr, '--json', '/teapot']);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ ok: true, appStatus: 3, status: 418, body: 'short and stout\n', stderr: 'brewing\n', exitCode: 3 });
    expect(j.headers).toContainEqual(['x-pot', 'yes']);
    expect(r.code).toBe(3);
  });

  it('sends the body from stdin with --data -', async () => {
    const r = await fcgi(['request', '--connect', oursAddr, '--body-only', '--data', '-', '--method', 'PUT', '/echo'], { input: 'from stdin' });
    expect(r.out).toBe('from stdin');
  });

  it('plays the authorizer role (a cookie decides) and the filter role (FCGI_DATA)', async () => {
    const denied = await fcgi(['request', '--connect', oursAddr, '--role', 'authorizer', '--include', '/private']);
    expect(denied.out).toMatch(/^HTTP\/1.1 403 Forbidden\r\n/);
    const allowed = await fcgi(['request', '--connect', oursAddr, '--role', 'authorizer', '--header', 'Cookie: session=let-me-in', '--json', '/private']);
    expect(JSON.parse(allowed.out)).toMatchObject({ status: 200, headers: expect.arrayContaining([['variable-user', 'ann']]) });
    const file = join(dir, 'to-filter.txt');
    writeFileSync(file, 'make me loud');
    const filtered = await fcgi(['request', '--connect', oursAddr, '--role', 'filter', '--filter-data', file, '--body-only', '/f']);
    expect(filtered.out).toBe('MAKE ME LOUD');
    const params = await paramsFor(['--role', 'filter', '--filter-data', file, '/f']);
    expect(params.FCGI_DATA_LENGTH).toBe('12');
  });
});

/** A TCP app that does `onData` with each connection's bytes (a misbehaving peer). */
async function fakeApp(onData: (socket: import('node:net').Socket) => void): Promise<{ address: string; server: NetServer }> {
  const server = createNetServer((s) => s.once('data', () => onData(s)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

describe('fcgi request exit statuses', () => {
  it('69 when nothing listens, 75 on a timeout, 76 on a protocol error or a cut connection, 77 on another protocol status', async () => {
    const refused = await fcgi(['request', '--connect', join(dir, 'nothing.sock'), '/']);
    expect(refused.code).toBe(69);
    expect(refused.err).toContain('CONNECT_FAILED');

    const silent = await fakeApp(() => {});
    const slow = await fcgi(['request', '--connect', silent.address, '--timeout', '300', '/']);
    expect(slow.code).toBe(75);
    expect(slow.err).toContain('TIMEOUT_TOTAL');

    const garbage = await fakeApp((s) => s.end('HTTP/1.1 200 OK\r\n\r\n'));
    const bad = await fcgi(['request', '--connect', garbage.address, '/']);
    expect(bad.code).toBe(76);
    expect(bad.err).toContain('BAD_VERSION');

    const cut = await fakeApp((s) => s.end(Buffer.from(new Encoder().stream(6, 1, new TextEncoder().encode('Content-Type: text/plain\r\n\r\nhal'), false)[0]!)));
    const cutShort = await fcgi(['request', '--connect', cut.address, '/']);
    expect(cutShort.code).toBe(76);
    expect(cutShort.out).toBe('Content-Type: text/plain\r\n\r\nhal'); // what came is still printed

    const unknownRole = await fakeApp((s) => s.end(Buffer.from(new Encoder().endRequest(1, 0, 3))));
    const role = await fcgi(['request', '--connect', unknownRole.address, '/']);
    expect(role.code).toBe(77);
    expect(role.err).toContain('UNKNOWN_ROLE');

    for (const f of [silent, garbage, cut, unknownRole]) f.server.close();
  });

  it('76 with the byte count when the CGI headers never end (--include)', async () => {
    const noHead = await fakeApp((s) => {
      const e = new Encoder();
      s.end(Buffer.concat([...e.stream(6, 1, new TextEncoder().encode('just a body, no headers'), true), e.endRequest(1, 0, 0)]));
    });
    const r = await fcgi(['request', '--connect', noHead.address, '--include', '/']);
    expect(r.code).toBe(76);
    expect(r.err).toContain('INCOMPLETE_HEADERS');
    expect(r.err).toContain('incomplete headers (23 bytes)');
    expect(r.out).toBe('just a body, no headers');
    // without --include the bytes pass through as cgi-fcgi passes them, and the request succeeded
    const raw = await fcgi(['request', '--connect', noHead.address, '/']);
    expect(raw.code).toBe(0);
    expect(raw.out).toBe('just a body, no headers');
    noHead.server.close();
  });

  it('2 with a message for bad usage; --help says what it does', async () => {
    const noPath = await fcgi(['request', '--connect', c.address]);
    expect(noPath.code).toBe(2);
    expect(noPath.err).toContain('PATH');
    const typo = await fcgi(['request', '--conect', c.address, '/']);
    expect(typo.code).toBe(2);
    expect(typo.err).toContain('unknown option --conect');
    const help = await fcgi(['request', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('usage: fcgi request --connect ADDR');
    expect(help.out).toContain('75 timed out');
  });
});
