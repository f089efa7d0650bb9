// `fcgi proxy --spawn`: one command, a web server in front of managed FastCGI processes (mod_fastcgi's
// FastCgiServer), with --watch doing a rolling restart when a file changes.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from '../peers/nginx.js';
import { alive, CLI, load, OUR_APP, waitFor } from './helpers.js';

let running: ChildProcess[] = [];
let dirs: string[] = [];
afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('fcgi proxy --spawn', () => {
  it('serves a managed app over HTTP, restarts it when a watched file changes, and cleans up on SIGTERM', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-proxy-spawn-'));
    dirs.push(dir);
    const watched = join(dir, 'version');
    writeFileSync(watched, '1');
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'proxy', '--listen', `127.0.0.1:${port}`, '--spawn', `${process.execPath} ${OUR_APP}`, '--processes', '2', '--watch', watched], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const listening = () => [...out.matchAll(/\[(\d+)\] listening/g)].map((m) => Number(m[1]));
    await waitFor(() => out.includes(`http://127.0.0.1:${port}/`) && listening().length === 2, 10_000, 'the proxy and 2 app processes');
    const socket = /on (\/\S+\.sock)/.exec(out)?.[1];
    expect(socket).toBeDefined();
    expect(await (await fetch(`http://127.0.0.1:${port}/anything`)).text()).toBe('hello\n');

    // a watched file changes under load: new processes replace the old, and no request fails (a request
    // the gateway wrote on a kept connection that an old process closed is sent again on a new one)
    const first = listening();
    const during = await load(`http://127.0.0.1:${port}/`, 3000, 4, () => utimesSync(watched, new Date(), new Date(Date.now() + 5000)), 500);
    await waitFor(() => listening().length === 4 && first.every((p) => !alive(p)), 6000, 'a rolling restart');
    expect(out).toContain('changed; rolling restart');
    expect(during.failed).toEqual([]);
    expect(during.ok).toBeGreaterThan(0);
    const after = await load(`http://127.0.0.1:${port}/`, 500, 2);
    expect(after.failed).toEqual([]);
    expect(after.ok).toBeGreaterThan(0);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(listening().filter(alive)).toEqual([]);
    expect(existsSync(dirname(socket!))).toBe(false);
  });
});
