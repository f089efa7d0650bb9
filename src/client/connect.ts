// FastCGI app addresses as the client takes them: 'host:port', '[v6]:port', 'unix:/path' or '/path'.

import { connect, type Socket } from 'node:net';
import { FastCGIError } from '../codec/errors.js';

/**
 * A socket to `address` once it is connected; rejects with CONNECT_FAILED, or CONNECT_TIMEOUT after
 * `timeout` ms. BAD_ADDRESS is thrown at once, before anything starts.
 */
export function connectWithin(address: string, timeout: number): Promise<Socket> {
  const socket = connectTo(address);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new FastCGIError('CONNECT_TIMEOUT', `connecting to ${address} took longer than ${timeout} ms`));
    }, timeout);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new FastCGIError('CONNECT_FAILED', `cannot connect to the FastCGI app at ${address}: ${err.message}`));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

/** Whether a connection to `address` opens within `timeout` ms (it is closed at once): a health check. */
export function reachable(address: string, timeout: number): Promise<boolean> {
  try {
    return connectWithin(address, timeout).then(
      (socket) => (socket.destroy(), true),
      () => false,
    );
  } catch {
    return Promise.resolve(false); // BAD_ADDRESS
  }
}

/** A socket to 'host:port', '[v6]:port', 'unix:/path' or '/path' (BAD_ADDRESS for anything else). */
export function connectTo(address: string): Socket {
  if (address.startsWith('unix:')) return connect(address.slice(5));
  if (address.startsWith('/') || address.startsWith('.')) return connect(address);
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (!m) throw new FastCGIError('BAD_ADDRESS', `a FastCGI address is host:port, [v6]:port or a socket path, got ${JSON.stringify(address)}`);
  return connect(Number(m[2]), m[1]);
}
