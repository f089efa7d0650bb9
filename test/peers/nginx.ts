// Starts a real nginx (Debian package) for interop tests: its own config, pid, logs and temp paths in a
// fresh directory, listening on a free 127.0.0.1 port, in the foreground so the test owns its pid.

import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export { freePort };

export interface Nginx {
  port: number;
  dir: string;
  url(path: string): string;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * `locations` is the body of the server block (location blocks); `http` goes in the http block (e.g.
 * upstreams). The http block includes Debian's fastcgi_params; a location that sets a fastcgi_param of
 * its own must include them again (nginx does not inherit fastcgi_param into such a location).
 */
export async function startNginx(locations: string, http = ''): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-nginx-'));
  // as root, nginx's workers run as nobody: they must reach the temp paths (large bodies spool there)
  chmodSync(dir, 0o755);
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { mode: 0o777 });
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 2g;
  fastcgi_read_timeout 20s;
  include /etc/nginx/fastcgi_params;
  ${http}
  server {
    listen 127.0.0.1:${port};
    server_name localhost;
    ${locations}
  }
}
`,
  );
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, child, 'nginx');
  return {
    port,
    dir,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    errorLog: () => readFileSync(join(dir, 'error.log'), 'utf8'),
    async stop() {
      child.kill('SIGTERM'); // the master, by the pid we started
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
