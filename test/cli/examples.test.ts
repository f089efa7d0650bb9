// docs/faq.md's answers, run as the FAQ runs them: the examples/ apps started as processes, poked with
// the fcgi command (and fetch for the HTTP ends). If an answer stops being true, this fails.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from '../peers/ports.js';
import { CLI, fcgi } from './run-cli.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Proc {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

/** Starts `node examples/NAME args...` (or the fcgi command) and waits until `port` accepts. */
async function start(file: string, args: string[], port: number): Promise<Proc> {
  const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  started.push(child);
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await waitForPort(port, child, file);
  return { child, log: () => log, exited };
}
const example = async (name: string, args: string[], port: number) => start(join(EXAMPLES, name), args, port);
const addr = (port: number) => `127.0.0.1:${port}`;

describe('docs/faq.md', () => {
  it('signals: SIGTERM lets the request in flight finish, then the app exits 0', async () => {
    const port = await freePort();
    const app = await example('graceful.mjs', [addr(port)], port);
    const inFlight = fcgi(['request', '--connect', addr(port), '--body-only', '/slow?ms=1000']);
    for (let i = 0; i < 200 && !app.log().includes('started /slow?ms=1000'); i++) await new Promise((r) => setTimeout(r, 25));
    // by pid: Deno's ChildProcess.kill() reports the signal as the cause of exit even when the child exits 0
    process.kill(app.child.pid!, 'SIGTERM');
    const r = await inFlight;
    expect(r.out).toBe('done after 1000 ms\n');
    expect(r.code).toBe(0);
    expect(await app.exited).toBe(0);
    expect(app.log()).toContain('SIGTERM: finishing 1 request(s), then exiting');
  });

  it('restart on a new version: the app exits 0 after the request that follows a change, and its restart is the new version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcgi-faq-'));
    try {
      const watched = join(dir, 'bundle.js');
      writeFileSync(watched, 'v1');
      const port = await freePort();
      // the FAQ's shell loop, as a test: start it again when it exits 0
      const first = await example('restart-on-change.mjs', [addr(port), watched], port);
      const v1 = (await fcgi(['request', '--connect', addr(port), '--body-only', '/'])).out;
      expect(v1).toMatch(/^version started at .*, pid \d+\n$/);
      utimesSync(watched, new Date(), new Date(Date.now() + 5000));
      expect((await fcgi(['request', '--connect', addr(port), '--body-only', '/'])).out).toBe(v1); // the old one still answers
      expect(await first.exited).toBe(0);
      expect(first.log()).toContain('changed; exiting after the requests in flight');
      await example('restart-on-change.mjs', [addr(port), watched], port);
      const v2 = (await fcgi(['request', '--connect', addr(port), '--body-only', '/'])).out;
      expect(v2).toMatch(/^version started at /);
      expect(v2).not.toBe(v1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a status other than 200: a Status line in the CGI response, an HTTP status line with --include', async () => {
    const port = await freePort();
    await example('status.mjs', [addr(port)], port);
    const gone = await fcgi(['request', '--connect', addr(port), '/gone']);
    expect(gone.out).toMatch(/^Status: 410 Gone\r\n/);
    expect(gone.out.endsWith('\r\n\r\nthis page is gone\n')).toBe(true);
    const later = await fcgi(['request', '--connect', addr(port), '--include', '/later']);
    expect(later.out).toMatch(/^HTTP\/1.1 503 Come Back Later\r\n/);
    expect(later.out.toLowerCase()).toContain('retry-after: 30\r\n');
    const moved = await fcgi(['request', '--connect', addr(port), '--json', '/moved']);
    expect(JSON.parse(moved.out)).toMatchObject({ status: 301, headers: expect.arrayContaining([[expect.stringMatching(/^location$/i), 'https://example.org/new-home']]) });
  });

  it('an external app: probe it, request it, and put fcgi proxy --backend in front', async () => {
    const port = await freePort();
    await example('hello.mjs', [addr(port)], port);
    const probe = await fcgi(['probe', addr(port), '--json']);
    expect(JSON.parse(probe.out)).toMatchObject({ answered: true, values: { FCGI_MPXS_CONNS: '1' } });
    expect((await fcgi(['request', '--connect', addr(port), '--body-only', '/hi'])).out).toBe('hello from /hi\n');
    const httpPort = await freePort();
    await start(CLI, ['proxy', '--listen', addr(httpPort), '--backend', addr(port), '--pass-all'], httpPort);
    expect(await (await fetch(`http://${addr(httpPort)}/hi`)).text()).toBe('hello from /hi\n');
  });

  it('authorizing by cookie: refused without the session, REMOTE_USER passed on with it', async () => {
    const [authPort, appPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    await example('authorizer.mjs', [addr(authPort)], authPort);
    await example('whoami.mjs', [addr(appPort)], appPort);
    await example('auth-front.mjs', [String(httpPort), addr(authPort), addr(appPort)], httpPort);
    const refused = await fetch(`http://${addr(httpPort)}/private`);
    expect(refused.status).toBe(401);
    expect(await refused.text()).toBe('log in first\n');
    const wrong = await fetch(`http://${addr(httpPort)}/private`, { headers: { cookie: 'session=guess' } });
    expect(wrong.status).toBe(401);
    const allowed = await fetch(`http://${addr(httpPort)}/private`, { headers: { cookie: 'theme=dark; session=s3cr3t' } });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toBe('hello ann\n');
    const alone = await fcgi(['request', '--connect', addr(authPort), '--role', 'authorizer', '--include', '--header', 'Cookie: session=s3cr3t', '/private']);
    expect(alone.out).toBe('HTTP/1.1 200 OK\r\nvariable-remote_user: ann\r\n\r\n');
  });

  it('debugging: incomplete headers and a protocol error, with their exit statuses; fcgi decode names the rule', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    await example('broken-app.mjs', [addr(p1), 'headers'], p1);
    await example('broken-app.mjs', [addr(p2), 'record'], p2);
    const raw = await fcgi(['request', '--connect', addr(p1), '/']);
    expect(raw.out).toBe('Content-Type: text/plain\r\nhello');
    const parsed = await fcgi(['request', '--connect', addr(p1), '--include', '/']);
    expect(parsed.code).toBe(76);
    expect(parsed.err).toContain("fcgi request: INCOMPLETE_HEADERS: incomplete headers (31 bytes): the app's response ended before the empty line");
    const broken = await fcgi(['request', '--connect', addr(p2), '/']);
    expect(broken.code).toBe(76);
    expect(broken.err).toContain('BAD_VERSION: a record header must have version 1 (spec 3.3) (at stream offset 0)');
    const decoded = await fcgi(['decode', '--hex', '02 06 00 01 00 02 06 00 68 69 00 00 00 00 00 00']);
    expect(decoded.out).toContain('error: BAD_VERSION: a record header must have version 1 (spec 3.3) (at stream offset 0)');
    const record = await fcgi(['decode', '--hex', '01 06 00 01 00 1f 01 00 436f6e74656e742d547970653a20746578742f706c61696e0d0a68656c6c6f 00']);
    expect(record.out).toContain('STDOUT            id 1        31+1   "Content-Type: text/plain\\r\\nhello"');
  });
});
