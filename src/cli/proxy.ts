// `fcgi proxy`: an HTTP server in front of FastCGI backends (the gateway), or, with no backend named, in
// front of the example app started in this process on a Unix socket.

import { createServer as createHttpServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createGateway } from '../client/gateway.js';
import { serve } from '../server/server.js';
import { exampleApp } from './example-app.js';
import { all, count, duration, flag, one, pairsOf, parseArgs, size, UsageError } from './args.js';
import { forkWorkers, workerSettings } from './workers.js';
import { Manager } from '../manager/manager.js';
import { managerOptions, reportManager } from './spawn.js';

export const PROXY_USAGE = `usage: fcgi proxy [--listen [HOST:]PORT] [--backend ADDR]... [--root DIR] [--index FILE]
                  [--front-controller /index.php] [--pass-all] [--workers N] [--connections N]
                  [timeouts, body and static-file options below]
                  [--spawn 'CMD ARGS' [--processes N | --min N --max N] [--env NAME[=VALUE]]...]

An HTTP server that serves static files from --root and passes scripts (*.php) to the FastCGI
backends (host:port or a Unix socket path; several are balanced, with failover), like nginx's
fastcgi_pass. --pass-all sends every request to the backends (an application server, not a PHP
docroot). --spawn runs CMD (through /bin/sh -c 'exec CMD') under the process manager on a Unix
socket in a temp dir and passes every request to it (mod_fastcgi's FastCgiServer); it takes the
manager flags of \`fcgi spawn\` (--processes, --min/--max, --env, --watch, --restart-delay, ...).
With neither it starts the built-in example app and passes every request to it.
--workers N runs the gateway in N processes on the one port (like nginx's worker_processes; default
1); --connections N bounds the connections to each backend, shared out among the workers (default 16).
Default --listen 127.0.0.1:8080.

Timeouts (500, 500ms, 10s, 2m; each flag replaces only its own default):
  --timeout T           the backend's reply: to its first byte and between bytes (60s, fastcgi_read_timeout)
  --connect-timeout T   connecting to a backend (5s)
  --total-timeout T     a whole backend request, waiting for a connection included (none)
  --body-timeout T      between two reads of a request body read whole: 408 (60s, client_body_timeout)
Request bodies are read whole before a backend is contacted (a slow upload holds no backend worker):
  --max-body-size N     larger bodies get 413 (8m: PHP's post_max_size; sizes 512, 64k, 8m, 2g)
  --body-in-memory N    kept in memory, the rest in an unlinked temp file (64k)
  --temp-dir DIR        where those temp files go (the OS temp dir)
  --no-request-buffering  stream bodies with a Content-Length through as they come instead
Static files:
  --alias PREFIX=DIR        serve URL PREFIX from DIR (nginx's alias; repeatable; the longest prefix wins)
  --dotfiles deny|allow     deny (default): /.env, /.git/... get 403 (/.well-known/ is served)
  --symlinks inside|follow  inside (default): a link is followed only to a target inside --root`;

export async function proxy(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['pass-all', 'json', 'request-buffering']);
  const listen = one(args, 'listen') ?? '8080';
  const m = /^(?:(.+):)?(\d+)$/.exec(listen);
  if (!m) throw new UsageError(`--listen takes [HOST:]PORT, got ${listen}`);
  const host = m[1] ?? '127.0.0.1';
  const port = Number(m[2]);
  const workers = count(args, 'workers', 1, 1);
  const connections = count(args, 'connections', 16, 1);
  const inWorker = workerSettings();
  let backends = inWorker?.backends ?? all(args, 'backend');
  let cleanup = (): void => {};
  let stopApp = (): void | Promise<void> => {};
  const spawnCmd = one(args, 'spawn');
  if (!inWorker && spawnCmd !== undefined) {
    if (backends.length > 0) throw new UsageError('--spawn and --backend: choose one');
    const dir = mkdtempSync(join(tmpdir(), 'fcgi-proxy-'));
    const manager = new Manager({ ...managerOptions(args, ['/bin/sh', '-c', `exec ${spawnCmd}`]), socket: join(dir, 'app.sock') });
    reportManager(manager, false);
    process.on('SIGHUP', () => void manager.rollingRestart());
    await manager.start();
    backends = [manager.address];
    stopApp = () => manager.stop().then(() => rmSync(dir, { recursive: true, force: true }));
    console.log(`fcgi proxy: started ${manager.targetProcesses} process(es) of ${spawnCmd} on ${manager.address}`);
  } else if (backends.length === 0) {
    const dir = mkdtempSync(join(tmpdir(), 'fcgi-proxy-'));
    const socket = join(dir, 'example-app.sock');
    const app = serve(exampleApp, { listen: socket, handleSignals: false });
    await new Promise((r) => app.once('listening', r));
    backends = [socket];
    stopApp = () => void app.close();
    cleanup = () => rmSync(dir, { recursive: true, force: true });
    console.log(`fcgi proxy: started the example FastCGI app on ${socket}`);
  }
  const where = `http://${host.includes(':') ? `[${host}]` : host}:${port}/ -> ${backends.join(', ')}`;
  if (!inWorker && workers > 1) {
    const stopWorkers = await forkWorkers(workers, { backends, maxConnections: Math.max(1, Math.ceil(connections / workers)) }, console.error);
    console.log(`fcgi proxy: ${where} (${workers} workers)`);
    await stopSignal();
    await stopWorkers();
    stopApp();
    cleanup();
    return 0;
  }
  const root = resolve(one(args, 'root') ?? process.cwd());
  const read = duration(args, 'timeout', 60_000);
  const total = duration(args, 'total-timeout', 0);
  const gateway = createGateway({
    backends,
    documentRoot: root,
    index: one(args, 'index'),
    frontController: one(args, 'front-controller'),
    // an app server (the example app, or --spawn without --root) gets every request
    passAll: (all(args, 'backend').length === 0 && (spawnCmd === undefined || one(args, 'root') === undefined)) || one(args, 'pass-all') === 'true',
    client: {
      timeouts: { firstByte: read, idle: read, ...(total > 0 ? { total } : {}) },
      connectTimeout: duration(args, 'connect-timeout', 5000),
      maxConnections: inWorker?.maxConnections ?? connections,
    },
    requestBuffering: flag(args, 'request-buffering', true),
    maxBodySize: size(args, 'max-body-size', 8 << 20),
    bodyInMemory: size(args, 'body-in-memory', 64 << 10),
    bodyTimeout: duration(args, 'body-timeout', 60_000),
    tempDir: one(args, 'temp-dir'),
    aliases: Object.fromEntries(pairsOf(args, 'alias').map(([prefix, dir]) => [prefix, resolve(dir)])),
    dotfiles: choice(args, 'dotfiles', ['deny', 'allow'] as const),
    symlinks: choice(args, 'symlinks', ['inside', 'follow'] as const),
  });
  const server = createHttpServer(gateway);
  await new Promise<void>((r, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => r());
  });
  if (!inWorker) console.log(`fcgi proxy: ${where}${all(args, 'backend').length ? ` (root ${root})` : ''}`);
  await stopSignal();
  server.close();
  server.closeAllConnections();
  gateway.close();
  await stopApp();
  cleanup();
  if (inWorker) process.disconnect?.(); // the IPC channel to the primary would keep this process alive
  return 0;
}

/** A flag that takes one of `choices` (the first is the default). */
function choice<T extends string>(args: ReturnType<typeof parseArgs>, name: string, choices: readonly T[]): T {
  const value = one(args, name) ?? choices[0]!;
  if (!choices.includes(value as T)) throw new UsageError(`--${name} takes ${choices.join(' or ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

function stopSignal(): Promise<void> {
  return new Promise<void>((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
  });
}
