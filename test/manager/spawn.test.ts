// `fcgi spawn` with real FastCGI apps (ours, the fcgi2 C app, php-cgi, a Perl FCGI script) behind
// nginx: kill -9 a child under load, SIGHUP (rolling restart) under load, SIGTERM. Each load is bounded
// (2 s, 6 concurrent loops); each peer gets its own port or temp dir and is stopped by pid.

import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fcgi2AppBinary } from '../peers/fcgi2-app.js';
import type { Nginx } from '../peers/nginx.js';
import { alive, load, OUR_APP, PERL_APP, PHP_DIR, startNginxFor, startSpawnCli, waitFor, type SpawnCli } from './helpers.js';

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

interface AppCase {
  name: string;
  command: () => string[];
  args: string[];
  path: string;
  script?: string;
  unix: boolean;
}

const apps: AppCase[] = [
  { name: 'our app (fcgi-wasm)', command: () => [process.execPath, OUR_APP], args: [], path: '/', unix: false },
  // fcgi2 and FCGI.pm finish the request in hand on SIGUSR1 (SIGTERM kills them)
  { name: 'the fcgi2 C app', command: () => [fcgi2AppBinary()], args: ['--stop-signal', 'SIGUSR1'], path: '/pid', unix: false },
  // php-cgi exits by itself after PHP_FCGI_MAX_REQUESTS (500), which the load here would reach
  { name: 'php-cgi', command: () => ['php-cgi'], args: ['--env', 'PHP_FCGI_CHILDREN=0', '--env', 'PHP_FCGI_MAX_REQUESTS=100000'], path: '/pid.php', script: join(PHP_DIR, 'pid.php'), unix: true },
  { name: 'a Perl FCGI script', command: () => ['perl', PERL_APP], args: ['--stop-signal', 'USR1'], path: '/pid', unix: true },
];

describe('fcgi spawn behind nginx', () => {
  for (const app of apps) {
    it(`${app.name}: kill -9 under load, SIGHUP under load, SIGTERM`, { timeout: 40_000 }, async () => {
      let where: string[] = ['--listen', '127.0.0.1:0'];
      let socketPath: string | undefined;
      if (app.unix) {
        const dir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-spawn-'));
        chmodSync(dir, 0o755); // nginx's workers run as nobody
        cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
        socketPath = join(dir, 'app.sock');
        where = ['--socket', socketPath, '--mode', '0666'];
      }
      const spawned: SpawnCli = await startSpawnCli([...where, '--processes', '2', '--restart-delay', '100', '--grace', '3000', ...app.args], app.command());
      cleanups.push(() => spawned.child.exitCode === null && spawned.child.kill('SIGKILL'));
      const nginx: Nginx = await startNginxFor(spawned.address, app.script);
      cleanups.push(() => nginx.stop());
      const url = nginx.url(app.path);
      expect((await fetch(url)).status).toBe(200);
      expect(spawned.pids.size).toBe(2);

      // kill -9 one child under load: nothing fails (nginx retries a request the dead child held), and
      // the manager is back to 2 processes within its restart delay (plus the time to start one)
      let victim = 0;
      const killed = await load(url, 2000, 6, async () => {
        await waitFor(() => [...spawned.pids].some(alive), 2000, 'a live process to kill');
        victim = [...spawned.pids].find(alive)!;
        process.kill(victim, 'SIGKILL');
      }, 600);
      expect(killed.failed).toEqual([]);
      expect(killed.ok).toBeGreaterThan(20);
      await waitFor(() => spawned.pids.size === 2 && !spawned.pids.has(victim), 1000, 'a replacement process');
      const died = spawned.events.find((e) => e.event === 'exit' && e.pid === victim);
      expect(died).toMatchObject({ signal: 'SIGKILL', unexpected: true, reason: 'signal SIGKILL' });

      // SIGHUP under load: a rolling restart refuses nothing, and every process is new afterwards
      const before = new Set(spawned.pids);
      const rolled = await load(url, 2000, 6, () => void spawned.child.kill('SIGHUP'), 400);
      expect(rolled.failed).toEqual([]);
      await waitFor(() => spawned.pids.size === 2 && [...spawned.pids].every((p) => !before.has(p)), 4000, 'new processes after SIGHUP');

      // SIGTERM: the manager exits 0 and leaves no child and no socket file
      const everyPid = spawned.events.filter((e) => e.event === 'spawn').map((e) => e.pid as number);
      spawned.child.kill('SIGTERM');
      expect(await spawned.exited).toBe(0);
      expect(everyPid.filter(alive)).toEqual([]);
      if (socketPath) expect(existsSync(socketPath)).toBe(false);
    });
  }
});
