// Starting `fcgi proxy` from dist/ as a user runs it, on a free 127.0.0.1 port, for the CLI tests.

import { afterEach, expect } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../peers/nginx.js';

export const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
/** The proxies started, killed after each test. */
export const running: ChildProcess[] = [];
afterEach(() => running.splice(0).forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

/** Starts `fcgi proxy --listen <a free port> ...args`; resolves once it says where it listens. */
export async function startProxy(args: string[]): Promise<{ base: string; child: ChildProcess; out: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'proxy', '--listen', `127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  for (let i = 0; i < 100 && !out.includes('http://'); i++) await new Promise((r) => setTimeout(r, 50));
  expect(out).toContain(`http://127.0.0.1:${port}/`);
  return { base: `http://127.0.0.1:${port}`, child, out: () => out };
}

