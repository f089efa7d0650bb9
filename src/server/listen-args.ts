// What FcgiServer.listen() accepts: every form of node's net.Server.listen
// (https://nodejs.org/api/net.html#serverlisten), read the same way, with two differences: a TCP port
// with no host binds 127.0.0.1 (a FastCGI app serves a web server on the same machine, and nothing
// else should reach it), and no address at all means fd 0 or CGI (FcgiServer.listen says which).

import type { ListenOptions, Server, Socket } from 'node:net';

/** The address a port with no host binds. */
export const DEFAULT_HOST = '127.0.0.1';

/**
 * A listening socket to take over, as net.Server.listen(handle) takes it: `{ fd }` (fd 0 from a process
 * manager), or a net.Server or net.Socket (net takes their `_handle`).
 */
export type ListenHandle = { fd: number } | Server | Socket;

/** The first argument of listen(): a port, a Unix socket path, net's options object, or a handle. */
export type ListenTarget = number | string | ListenOptions | ListenHandle;

export type ParsedListen =
  | { kind: 'none'; callback?: () => void }
  | { kind: 'handle'; handle: ListenHandle; backlog?: number; callback?: () => void }
  | { kind: 'address'; options: ListenOptions; callback?: () => void };

/**
 * (port[, host][, backlog][, cb]), (path[, backlog][, cb]), (options[, cb]), (handle[, backlog][, cb]),
 * or ([cb]) for no address. A port may be a numeric string, as in node.
 */
export function parseListenArgs(args: readonly unknown[]): ParsedListen {
  const rest = [...args];
  const callback = typeof rest[rest.length - 1] === 'function' ? (rest.pop() as () => void) : undefined;
  const [first, second, third] = rest;
  // node takes the backlog from the second argument or else the third, whichever is a number
  const backlog = backlogOf(second) ?? backlogOf(third);
  if (first === undefined || first === null) return { kind: 'none', callback };
  if (typeof first === 'object') {
    if (isHandle(first)) return { kind: 'handle', handle: first, backlog, callback };
    const options: ListenOptions = { ...(first as ListenOptions) };
    options.backlog ??= backlog;
    if (options.path === undefined) options.host ??= DEFAULT_HOST;
    return { kind: 'address', options, callback };
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    const host = typeof second === 'string' ? second : DEFAULT_HOST;
    return { kind: 'address', options: { port: Number(first), host, backlog }, callback };
  }
  if (typeof first === 'string') return { kind: 'address', options: { path: first, backlog }, callback };
  throw new TypeError(`listen() takes a port, a path, an options object or a handle, not ${typeof first}`);
}

function isHandle(x: object): x is ListenHandle {
  return '_handle' in x || typeof (x as { fd?: unknown }).fd === 'number';
}

function backlogOf(x: unknown): number | undefined {
  return typeof x === 'number' && x >= 0 ? x : undefined;
}
