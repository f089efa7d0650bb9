// The shared listening socket, created the way the children need it: bound and listening in the kernel,
// with the manager holding its file descriptor but never accepting on it. A node net.Server would poll
// and accept connections itself, so a short-lived helper node process makes the socket and sends the
// raw handle back over IPC (child_process sends a bare TCP/Pipe handle as 'net.Native', which the
// receiver gets as an unpolled handle with its fd). The manager passes that fd as each child's fd 0 and
// keeps it open across restarts: while no child accepts, connections wait in the kernel's queue.

import { spawn } from 'node:child_process';
import { chmodSync, existsSync, statSync, unlinkSync } from 'node:fs';

export interface ListenSpec {
  /** A Unix socket path, or host and port (port 0 picks a free one). */
  path?: string;
  host?: string;
  port?: number;
  backlog?: number;
  /** Unix socket file mode, e.g. 0o660. */
  mode?: number;
}

export interface ListeningSocket {
  fd: number;
  /** "HOST:PORT" (IPv6 in brackets) or the socket path, as Client's `address` takes it. */
  address: string;
  path?: string;
  port?: number;
  close(): void;
}

export class ListenError extends Error {
  readonly code = 'ERR_FCGI_LISTEN';
}

interface RawHandle {
  fd: number;
  close(): void;
}

const HELPER = `const net = require('node:net');
const s = net.createServer();
s.on('error', (e) => { process.send({ error: e.message }); process.disconnect(); });
s.listen(JSON.parse(process.argv[1]), () => process.send({ address: s.address() }, s._handle, () => process.exit(0)));`;

export async function openListeningSocket(spec: ListenSpec): Promise<ListeningSocket> {
  const options = spec.path !== undefined
    ? { path: spec.path, backlog: spec.backlog ?? 511 }
    : { host: spec.host ?? '127.0.0.1', port: spec.port ?? 0, backlog: spec.backlog ?? 511 };
  if (spec.path !== undefined && existsSync(spec.path)) {
    if (!statSync(spec.path).isSocket()) throw new ListenError(`${spec.path} exists and is not a socket`);
    unlinkSync(spec.path); // a stale socket file from an earlier run
  }
  const helper = spawn(process.execPath, ['-e', HELPER, JSON.stringify(options)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: {} });
  let stderr = '';
  helper.stderr!.on('data', (d) => (stderr += d));
  const [message, handle] = await new Promise<[{ error?: string; address?: { address: string; port: number } | string }, RawHandle | undefined]>((resolve, reject) => {
    helper.once('message', (m, h) => resolve([m as never, h as unknown as RawHandle | undefined]));
    helper.once('exit', (code) => reject(new ListenError(`could not open the listening socket (helper exited ${code}): ${stderr.trim()}`)));
  });
  helper.disconnect?.();
  if (message.error || !handle || typeof handle.fd !== 'number' || handle.fd < 0) {
    throw new ListenError(`could not listen on ${spec.path ?? `${options.host}:${options.port}`}: ${message.error ?? 'no socket came back'}`);
  }
  if (spec.path !== undefined && spec.mode !== undefined) chmodSync(spec.path, spec.mode);
  const info = message.address;
  const port = typeof info === 'object' && info ? info.port : undefined;
  const host = typeof info === 'object' && info ? info.address : '';
  return {
    fd: handle.fd,
    address: spec.path ?? (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`),
    path: spec.path,
    port,
    close() {
      handle.close();
      if (spec.path !== undefined && existsSync(spec.path)) unlinkSync(spec.path);
    },
  };
}
