// Helpers for the process-manager tests: `fcgi spawn --json` as a user runs it (its events give the
// children's pids), nginx in front of a managed socket, a bounded load loop, and process checks.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startNginx, type Nginx } from '../peers/nginx.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const OUR_APP = fileURLToPath(new URL('../fixtures/apps/app.mjs', import.meta.url));
export const PERL_APP = fileURLToPath(new URL('../fixtures/manager/app.pl', import.meta.url));
export const PHP_DIR = fileURLToPath(new URL('../fixtures/manager', import.meta.url));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface SpawnCli {
  child: ChildProcess;
  address: string;
  /** pids of the children alive now, from the spawn/exit events */
  pids: Set<number>;
  events: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** Runs `fcgi spawn --json ARGS -- CMD...` and waits for its 'ready' event. */
export async function startSpawnCli(args: string[], command: string[]): Promise<SpawnCli> {
  const child = spawn(process.execPath, [CLI, 'spawn', '--json', ...args, '--', ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pids = new Set<number>();
  const events: Array<Record<string, unknown>> = [];
  let partial = '';
  let stderr = '';
  let address = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const e = JSON.parse(line) as Record<string, unknown>;
      events.push(e);
      if (e.event === 'spawn') pids.add(e.pid as number);
      if (e.event === 'exit') pids.delete(e.pid as number);
      if (e.event === 'ready') address = e.address as string;
    }
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  for (let i = 0; i < 100 && !address; i++) {
    if (child.exitCode !== null) throw new Error(`fcgi spawn exited ${child.exitCode}: ${stderr}`);
    await sleep(50);
  }
  if (!address) throw new Error(`fcgi spawn did not start: ${stderr}`);
  return { child, address, pids, events, exited };
}

/**
 * nginx in front of one FastCGI address, retrying a request that failed on a dead process
 * (fastcgi_next_upstream; the upstream lists the same address twice so there is a "next" to try).
 */
export function startNginxFor(address: string, scriptFilename = '/srv/app'): Promise<Nginx> {
  const server = address.startsWith('/') ? `unix:${address}` : address;
  return startNginx(
    `location / {
      fastcgi_pass managed;
      fastcgi_next_upstream error timeout invalid_header;
      fastcgi_next_upstream_tries 4;
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME ${scriptFilename};
    }`,
    `upstream managed { server ${server} max_fails=0; server ${server} max_fails=0; }`,
  );
}

export interface LoadResult {
  ok: number;
  failed: Array<string>;
  bodies: Set<string>;
}

/** `concurrency` loops of GET url for `ms` milliseconds (bounded), counting statuses. */
export async function load(url: string, ms: number, concurrency = 6, during?: () => void | Promise<void>, duringAt = ms / 3): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failed: [], bodies: new Set() };
  const deadline = Date.now() + ms;
  const worker = async () => {
    while (Date.now() < deadline) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        const body = await res.text();
        if (res.status === 200) {
          result.ok++;
          result.bodies.add(body.trim());
        } else result.failed.push(`${res.status} ${body.slice(0, 80)}`);
      } catch (e) {
        result.failed.push(String(e));
      }
    }
  };
  const trigger = during ? sleep(duringAt).then(during) : Promise.resolve();
  await Promise.all([...Array.from({ length: concurrency }, worker), trigger]);
  return result;
}

/** Waits until `check` holds, polling; returns how long it took (or throws after `ms`). */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
  return Date.now() - start;
}
