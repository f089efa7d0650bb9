// The fcgi2 (libfcgi-dev) C app in test/fixtures/c/app.c as a peer: compiled once per test process
// into a temp dir, started on a free 127.0.0.1 port or a Unix socket, stopped by its pid.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAppProcess, type AppProcess } from './app-process.js';

const SOURCE = fileURLToPath(new URL('../fixtures/c/app.c', import.meta.url));
let binary: string | undefined;

/** The compiled app's path (gcc + libfcgi-dev); it accepts on fd 0 when given no address. */
export function fcgi2AppBinary(): string {
  if (!binary) {
    const dir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-capp-'));
    binary = join(dir, 'fcgi2-app');
    execFileSync('cc', ['-O2', '-o', binary, SOURCE, '-lfcgi'], { stdio: 'pipe' });
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return binary;
}

export type Fcgi2App = AppProcess;

export function startFcgi2App(options: { socketPath?: string; env?: Record<string, string> } = {}): Promise<Fcgi2App> {
  return startAppProcess('the fcgi2 app', fcgi2AppBinary(), [], { ...options, env: { ...options.env } });
}
