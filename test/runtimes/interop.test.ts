// Our server and our client in Deno and in Bun (their npm packages), from the BUILT package (dist/;
// run `npm run build` first), against real peers: nginx in front of serve-app.mjs started by each runtime
// (node:http-style and fetch-style handlers, keep-alive on), and client-php.mjs in each runtime against
// php-fpm. Each child is started here, stopped by its pid, and bounded in time.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startNginx, type Nginx } from '../peers/nginx.js';
import { startPhpFpm, type PhpFpm } from '../peers/php-fpm.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HERE = join(ROOT, 'test/runtimes');
const DOCROOT = join(ROOT, 'test/fixtures/php');
const RUNTIMES = ['deno', 'bun'] as const;
const STYLES = ['node', 'fetch'] as const;
type Runtime = (typeof RUNTIMES)[number];

// Deno: only what the library needs, which is what the README tells Deno users: sockets, and the
// environment (the server reads FCGI_WEB_SERVER_ADDRS). Bun has no permission model.
const RUN: Record<Runtime, string[]> = {
  deno: [join(ROOT, 'node_modules/.bin/deno'), 'run', '--allow-net=127.0.0.1', '--allow-env'],
  bun: [join(ROOT, 'node_modules/.bin/bun')],
};
// no colours, no update checks or telemetry: the runtimes must not reach the network
const ENV = { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DO_NOT_TRACK: '1' };

interface App {
  child: ChildProcess;
  port: number;
  output: () => string;
}

/** Starts serve-app.mjs in `runtime` and waits (at most 20 s) for the port it prints. */
async function startApp(runtime: Runtime, style: string): Promise<App> {
  const [cmd, ...args] = RUN[runtime];
  const child = spawn(cmd!, [...args, join(HERE, 'serve-app.mjs'), style], { cwd: ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  for (let i = 0; i < 400 && !/"port":\d+/.test(out) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
  const port = Number(/"port":(\d+)/.exec(out)?.[1]);
  if (!port) {
    stop(child);
    throw new Error(`${runtime} serve-app.mjs ${style} did not start listening: ${out}`);
  }
  return { child, port, output: () => out };
}

/** By pid, as started; SIGKILL: these children hold no state worth a graceful end. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid!, 'SIGKILL');
  return exited;
}

describe('our server in Deno and in Bun behind nginx', () => {
  const apps = new Map<string, App>();
  let nginx: Nginx;
  const path = (runtime: string, style: string, rest: string) => nginx.url(`/${runtime}/${style}/${rest}`);

  beforeAll(async () => {
    const started = await Promise.allSettled(RUNTIMES.flatMap((r) => STYLES.map(async (s) => apps.set(`${r}/${s}`, await startApp(r, s)))));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    // one upstream per app, keep-alive on (FCGI_KEEP_CONN and pooled upstream connections)
    const upstreams = [...apps].map(([key, app]) => `upstream ${key.replace('/', '_')} { server 127.0.0.1:${app.port}; keepalive 4; }`).join('\n');
    const locations = [...apps.keys()].map((key) => `location /${key}/ { fastcgi_keep_conn on; fastcgi_pass ${key.replace('/', '_')}; }`).join('\n');
    nginx = await startNginx(locations, upstreams);
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all([...apps.values()].map((a) => stop(a.child)));
  });

  for (const runtime of RUNTIMES) {
    for (const style of STYLES) {
      describe(`${runtime}, ${style}-style handler`, () => {
        it('answers GETs, sequential ones on one kept connection', async () => {
          const replies = [];
          for (let i = 0; i < 5; i++) {
            const r = await fetch(path(runtime, style, `page?i=${i}`));
            replies.push({ status: r.status, runtime: r.headers.get('x-runtime'), connections: r.headers.get('x-connections'), text: await r.text() });
          }
          expect(replies.map((r) => r.text)).toEqual([0, 1, 2, 3, 4].map((i) => `hello from ${runtime} (${style} style) /${runtime}/${style}/page?i=${i}`));
          expect(replies.every((r) => r.status === 200 && r.runtime === runtime)).toBe(true);
          // keep-alive: no request opened a connection of its own
          expect(new Set(replies.map((r) => r.connections)).size).toBe(1);
          expect(nginx.errorLog()).not.toMatch(/\[(error|crit|alert|emerg)\]/);
        });

        it('echoes a POST body of a few hundred KB', async () => {
          // well below the ~4 MB at which nginx's buffering of a streamed echo stalls
          const body = Buffer.alloc(400_000);
          for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 12)) & 255;
          const r = await fetch(path(runtime, style, 'echo'), { method: 'POST', body });
          expect(r.status).toBe(200);
          expect(r.headers.get('x-runtime')).toBe(runtime);
          const back = Buffer.from(await r.arrayBuffer());
          expect(back.length).toBe(body.length);
          expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
        });
      });
    }
  }
});

describe('our client in Deno and in Bun against php-fpm', () => {
  let php: PhpFpm;
  beforeAll(async () => {
    php = await startPhpFpm({ children: 2 });
  }, 30_000);
  afterAll(async () => {
    await php?.stop();
  });

  for (const runtime of RUNTIMES) {
    it(`in ${runtime}: a GET with a query, a POST body, a page's stderr, Location redirects`, async () => {
      const [cmd, ...args] = RUN[runtime];
      // execFile stops the child by its pid (SIGTERM) if it runs past the timeout, and rejects
      const { stdout } = await promisify(execFile)(cmd!, [...args, join(HERE, 'client-php.mjs'), php.address, DOCROOT], { cwd: ROOT, env: ENV, timeout: 30_000 });
      const lines = stdout.trim().split('\n');
      expect(lines, 'one JSON line on stdout').toHaveLength(1);
      const got = JSON.parse(lines[0]!);
      expect(got.runtime).toBe(runtime);
      expect(got.get).toMatchObject({ status: 200, type: 'application/json', json: { method: 'GET', uri: '/index.php?a=1&b=two%20words', script: `${DOCROOT}/index.php`, query: { a: '1', b: 'two words' } } });
      expect(got.post.status).toBe(200);
      expect(got.post.text).toBe(got.post.sent); // length, md5 and CONTENT_LENGTH as php saw them
      expect(got.post.sent).toMatch(/^300000 [0-9a-f]{32} 300000$/);
      expect(got.stderr.stderr).toContain('hello-stderr');
      expect(got.stderr.stdout).toMatch(/\r\n\r\nok$/);
      expect(got.stderr.appStatus).toBe(0);
      expect(got.redirect).toEqual({ status: 302, location: 'http://example.test/elsewhere' });
      expect(got.localRedirect).toMatchObject({ status: 200, json: { uri: '/index.php?from=redirect' } });
    }, 40_000);
  }
});
