// Runs the built `fcgi` command (dist/cli/main.js) or another program as a child process, without
// blocking the test's event loop (the peers a test runs in-process must keep answering), and collects
// its stdout and stderr as bytes and its exit status.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface Ran {
  code: number | null;
  stdout: Buffer;
  stderr: Buffer;
  /** stdout and stderr as text */
  out: string;
  err: string;
  ms: number;
}

export function runProgram(file: string, args: string[], options: { input?: Uint8Array | string; env?: Record<string, string>; timeout?: number } = {}): Promise<Ran> {
  const started = performance.now();
  const child = spawn(file, args, { env: options.env ?? { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  child.stdin.on('error', () => {}); // a program that does not read its input
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 20_000);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      const stderr = Buffer.concat(err);
      resolve({ code, stdout, stderr, out: stdout.toString('latin1'), err: stderr.toString('utf8'), ms: performance.now() - started });
    });
  });
}

/** `fcgi ARGS...` */
export function fcgi(args: string[], options: { input?: Uint8Array | string; env?: Record<string, string>; timeout?: number } = {}): Promise<Ran> {
  return runProgram(process.execPath, [CLI, ...args], options);
}

/**
 * `cgi-fcgi -bind -connect ADDR` (Debian libfcgi-bin) with exactly `params` as its environment (it sends
 * its whole environment as the CGI params) and `body` on stdin.
 */
export function cgiFcgi(address: string, params: Record<string, string>, body?: Uint8Array | string): Promise<Ran> {
  // through env(1), which sets them in this order: Deno's spawn sorts an env object by name, and cgi-fcgi
  // sends its environment in its own order, so the bytes would differ from ours for that reason alone
  const assignments = Object.entries(params).map(([name, value]) => `${name}=${value}`);
  return runProgram('/usr/bin/env', ['-i', ...assignments, '/usr/bin/cgi-fcgi', '-bind', '-connect', address], { env: {}, input: body });
}
