// The Manager API: restart backoff for a process that exits at once, dynamic mode growing under load
// and shrinking when idle (php-cgi behind nginx), -initial-env rules and the working directory, and our
// server's exitAfterRequests / restartOnChange exits replaced by the manager.

import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager, type ExitInfo } from '../../src/manager/index.js';
import { initialEnv, InitialEnvError } from '../../src/manager/initial-env.js';
import { Client } from '../../src/client/client.js';
import { execFileSync } from 'node:child_process';
import { fcgi2AppBinary } from '../peers/fcgi2-app.js';
import { CLI, load, OUR_APP, PHP_DIR, sleep, startNginxFor, waitFor } from './helpers.js';

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-manager-'));
  chmodSync(dir, 0o755);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function managed(manager: Manager): Manager {
  cleanups.push(() => manager.stop());
  return manager;
}

describe('Manager', () => {
  it('backs off a process that exits at once instead of spinning, logging why it exited', async () => {
    const manager = managed(new Manager({ command: '/bin/sh', args: ['-c', 'exit 3'], restartDelay: 50, minLifetime: 1000, maxRestartDelay: 400 }));
    const exits: ExitInfo[] = [];
    const logs: string[] = [];
    manager.on('exit', (e: ExitInfo) => exits.push(e));
    manager.on('log', (l: string) => logs.push(l));
    await manager.start();
    await sleep(2500);
    // 50 ms apart it would start ~45 times; doubling to a 400 ms cap gives ~8
    expect(manager.spawnCount).toBeGreaterThanOrEqual(4);
    expect(manager.spawnCount).toBeLessThanOrEqual(12);
    expect(exits[0]).toMatchObject({ code: 3, signal: null, reason: 'exit code 3', unexpected: true });
    expect(logs.some((l) => /died \(exit code 3\)/.test(l))).toBe(true);
    expect(logs.some((l) => /strike \d+\); restarting in 400 ms/.test(l))).toBe(true);
  });

  it('dynamic mode: grows while connections wait in the accept queue, shrinks idle processes to min', { timeout: 30_000 }, async () => {
    const manager = managed(
      new Manager({ command: 'php-cgi', env: ['PHP_FCGI_CHILDREN=0'], min: 1, max: 3, startDelay: 150, idleTimeout: 1000, pollInterval: 50 }),
    );
    const scales: Array<{ from: number; to: number }> = [];
    manager.on('scale', (s: { from: number; to: number }) => scales.push(s));
    await manager.start();
    expect(manager.running).toBe(1);
    const nginx = await startNginxFor(manager.address, join(PHP_DIR, 'slow.php'));
    cleanups.push(() => nginx.stop());
    // php-cgi serves one request at a time: 6 loops of 100 ms requests keep connections queued
    const result = await load(nginx.url('/slow.php?ms=100'), 2500, 6);
    expect(result.failed).toEqual([]);
    expect(scales.filter((s) => s.to > s.from).length).toBeGreaterThanOrEqual(1);
    expect(Math.max(...scales.map((s) => s.to))).toBe(3);
    expect(result.bodies.size).toBeGreaterThanOrEqual(2); // answered by more than one process
    // idle: back to min, never below
    await waitFor(() => manager.running === 1 && manager.processes.length === 1, 6000, 'scale down to min');
    await sleep(1500);
    expect(manager.running).toBe(1);
    expect((await fetch(nginx.url('/slow.php?ms=1'))).status).toBe(200);
  });

  it('clears the environment but for the -initial-env rules, and runs in the given directory', async () => {
    const dir = tempDir();
    const out = join(dir, 'env.txt');
    process.env.FCGI_TEST_KEEP = 'kept';
    process.env.FCGI_TEST_SECRET = 'not for the child';
    cleanups.push(() => {
      delete process.env.FCGI_TEST_KEEP;
      delete process.env.FCGI_TEST_SECRET;
    });
    const manager = managed(
      new Manager({
        command: '/bin/sh',
        args: ['-c', `env > ${out}.tmp; pwd >> ${out}.tmp; mv ${out}.tmp ${out}; exec sleep 30`],
        env: ['FCGI_TEST_KEEP', 'EMPTY=', 'SET=a=b', 'FCGI_TEST_MISSING'],
        cwd: PHP_DIR,
      }),
    );
    await manager.start();
    await waitFor(() => existsSync(out), 3000, 'the env dump');
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toContain('FCGI_TEST_KEEP=kept');
    expect(lines).toContain('EMPTY=');
    expect(lines).toContain('SET=a=b');
    expect(lines.at(-1)).toBe(PHP_DIR);
    expect(lines.filter((l) => /^(FCGI_TEST_SECRET|FCGI_TEST_MISSING|HOME|PATH)=/.test(l))).toEqual([]);
    expect(() => initialEnv(['BAD NAME'])).toThrow(InitialEnvError);
  });

  it("replaces our server when it exits after exitAfterRequests, and when its script changes (restartOnChange)", { timeout: 20_000 }, async () => {
    const dir = tempDir();
    const watched = join(dir, 'version.txt');
    writeFileSync(watched, '1');
    const manager = managed(
      new Manager({ command: process.execPath, args: [OUR_APP], socket: join(dir, 'app.sock'), env: ['APP_EXIT_AFTER=3', `APP_RESTART_ON=${watched}`], restartDelay: 50 }),
    );
    const exits: ExitInfo[] = [];
    manager.on('exit', (e: ExitInfo) => exits.push(e));
    await manager.start();
    const client = new Client({ address: manager.address });
    cleanups.push(() => client.close());
    const get = async () => (await client.fetch('http://app/', { documentRoot: dir })).text();
    for (let i = 0; i < 9; i++) expect(await get()).toBe('hello\n');
    await waitFor(() => exits.length >= 3, 5000, 'three exits after 3 requests each');
    expect(exits.every((e) => e.code === 0 && e.unexpected)).toBe(true);
    await waitFor(() => manager.running === 1, 3000, 'a replacement');
    expect(await get()).toBe('hello\n'); // the new process is up and has read the file's mtime
    const spawnsBefore = manager.spawnCount;
    // restartOnChange: the next request after the change is served, then the process exits
    utimesSync(watched, new Date(), new Date(Date.now() + 5000));
    expect(await get()).toBe('hello\n');
    await waitFor(() => manager.spawnCount > spawnsBefore && manager.running === 1, 5000, 'a restart after the change');
    expect(await get()).toBe('hello\n');
  });

  it('listens on ::1 with a chosen backlog and a Unix socket with a chosen mode', async () => {
    const tcp = managed(new Manager({ command: fcgi2AppBinary(), host: '::1', port: 0, backlog: 8 }));
    await tcp.start();
    expect(tcp.address).toMatch(/^\[::1\]:\d+$/);
    const client = new Client({ address: tcp.address });
    cleanups.push(() => client.close());
    expect(await (await client.fetch('http://app/', { documentRoot: '/srv' })).text()).toBe('hello\n');
    const taken = new Manager({ command: fcgi2AppBinary(), host: '::1', port: Number(tcp.address.split(':').at(-1)) });
    await expect(taken.start()).rejects.toMatchObject({ code: 'ERR_FCGI_LISTEN', message: expect.stringContaining('EADDRINUSE') });
    const dir = tempDir();
    const unix = managed(new Manager({ command: fcgi2AppBinary(), socket: join(dir, 'a.sock'), socketMode: 0o660 }));
    await unix.start();
    const { statSync } = await import('node:fs');
    expect(statSync(join(dir, 'a.sock')).mode & 0o777).toBe(0o660);
  });

  it('fcgi spawn refuses contradictory or malformed flags (usage errors exit 2, a bad env rule 1)', () => {
    const run = (args: string[]) => {
      try {
        execFileSync(process.execPath, [CLI, 'spawn', ...args], { stdio: 'pipe' });
        return { status: 0, stderr: '' };
      } catch (e) {
        const err = e as { status: number; stderr: Buffer };
        return { status: err.status, stderr: String(err.stderr) };
      }
    };
    expect(run(['--processes', '2', '--max', '3', '--', 'x'])).toMatchObject({ status: 2, stderr: expect.stringContaining('choose one') });
    expect(run(['--processes', '2'])).toMatchObject({ status: 2, stderr: expect.stringContaining('no command') });
    expect(run(['--listen', 'nowhere', '--', 'x'])).toMatchObject({ status: 2, stderr: expect.stringContaining('HOST:PORT') });
    expect(run(['--env', 'BAD NAME', '--', 'x'])).toMatchObject({ status: 1, stderr: expect.stringContaining('NAME=value') });
  });
});
