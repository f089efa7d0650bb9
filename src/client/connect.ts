// FastCGI app addresses as the client takes them: 'host:port', '[v6]:port', 'unix:/path' or '/path'.

import { connect, type Socket } from 'node:net';
import { FastCGIError } from '../codec/errors.js';

/** Whether a connection to `address` opens within `timeout` ms (it is closed at once): a health check. */
export function reachable(address: string, timeout: number): Promise<boolean> {
  return new Promise((resolve) => {
    let socket: ReturnType<typeof connectTo>;
    try {
      socket = connectTo(address);
    } catch {
      return resolve(false);
    }
    const done = (up: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(up);
    };
    const timer = setTimeout(() => done(false), timeout);
    socket.once('connect', () => done(true)).once('error', () => done(false));
  });
}

/** A socket to 'host:port', '[v6]:port', 'unix:/path' or '/path' (BAD_ADDRESS for anything else). */
export function connectTo(address: string): Socket {
  if (address.startsWith('unix:')) return connect(address.slice(5));
  if (address.startsWith('/') || address.startsWith('.')) return connect(address);
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (!m) throw new FastCGIError('BAD_ADDRESS', `a FastCGI address is host:port, [v6]:port or a socket path, got ${JSON.stringify(address)}`);
  return connect(Number(m[2]), m[1]);
}
