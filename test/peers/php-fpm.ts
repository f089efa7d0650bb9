// Starts a real php-fpm (Debian package) for interop tests: its own config, pid and log in a fresh
// directory, one static pool on a free 127.0.0.1 port, in the foreground so the test owns its pid.

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface PhpFpm {
  port: number;
  address: string;
  log(): string;
  stop(): Promise<void>;
}

export function phpFpmBinary(): string {
  for (const p of ['/usr/sbin/php-fpm8.2', '/usr/sbin/php-fpm8.3', '/usr/sbin/php-fpm']) if (existsSync(p)) return p;
  throw new Error('php-fpm is not installed (Debian package php-fpm)');
}

/** `ini`: more php.ini settings (-d NAME=VALUE), e.g. enable_post_data_reading=0 for a streamed upload. */
export async function startPhpFpm(options: { children?: number; maxRequests?: number; ini?: Record<string, string> } = {}): Promise<PhpFpm> {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-php-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'php-fpm.conf'),
    `[global]
pid = ${dir}/php-fpm.pid
error_log = ${dir}/php-fpm.log
daemonize = no
log_level = notice
[test]
listen = 127.0.0.1:${port}
pm = static
pm.max_children = ${options.children ?? 2}
pm.max_requests = ${options.maxRequests ?? 0}
catch_workers_output = yes
decorate_workers_output = no
clear_env = yes
`,
  );
  const child = spawn(phpFpmBinary(), ['-F', '-R', '-y', join(dir, 'php-fpm.conf'), '-p', dir, '-d', 'expose_php=0', '-d', 'default_charset=', '-d', 'upload_max_filesize=20M', '-d', 'post_max_size=20M', ...Object.entries(options.ini ?? {}).flatMap(([k, v]) => ['-d', `${k}=${v}`])], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, child, 'php-fpm');
  return {
    port,
    address: `127.0.0.1:${port}`,
    log: () => (existsSync(join(dir, 'php-fpm.log')) ? readFileSync(join(dir, 'php-fpm.log'), 'utf8') : ''),
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
