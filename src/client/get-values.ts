// FCGI_GET_VALUES (spec 4.1): ask an app for FCGI_MAX_CONNS, FCGI_MAX_REQS and FCGI_MPXS_CONNS on a
// connection that carries nothing else, and wait at most `timeout` ms. Apps need not answer: fcgi2
// reads no management record before a BEGIN_REQUEST, so "no answer" is a normal outcome, not an error.
// Used by the pool (to learn whether to multiplex) and by `fcgi probe`.

import { ClientConnection } from '../protocol/client-connection.js';
import { FastCGIError } from '../codec/errors.js';
import { connectTo } from './connect.js';

export const VALUE_NAMES = ['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS'];

export interface ValuesAnswer {
  /** The app sent FCGI_GET_VALUES_RESULT. */
  answered: boolean;
  /** What it said (only the names it answered; empty when it did not answer). */
  values: Record<string, string>;
  /** Without an answer: it stayed silent until the timeout, or closed the connection, or broke the protocol. */
  silence?: 'timeout' | 'closed' | 'protocol-error';
  /** The protocol error, for silence 'protocol-error'. */
  error?: FastCGIError;
  /** Milliseconds from starting to connect to the answer (or to giving up): what the timeout bounds. */
  ms: number;
}

/**
 * Resolves with what the app answered, or that it did not; rejects (CONNECT_FAILED, BAD_ADDRESS) only
 * when there is no connection to ask on.
 */
export function getValues(address: string, options: { timeout?: number; names?: string[] } = {}): Promise<ValuesAnswer> {
  const timeout = options.timeout ?? 1000;
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const socket = connectTo(address);
    let connected = false;
    let settled = false;
    const settle = (answer: Omit<ValuesAnswer, 'ms'> | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (answer instanceof Error) reject(answer);
      else resolve({ ...answer, ms: performance.now() - startedAt });
    };
    const timer = setTimeout(() => settle(connected ? { answered: false, values: {}, silence: 'timeout' } : new FastCGIError('CONNECT_TIMEOUT', `connecting to ${address} took longer than ${timeout} ms`)), timeout);
    timer.unref?.();
    const conn = new ClientConnection({
      write: (parts) => parts.forEach((p) => socket.write(p)),
      close: (error) => settle({ answered: false, values: {}, silence: error ? 'protocol-error' : 'closed', error }),
      stdout: () => {},
      stderr: () => {},
      end: () => {},
      values: (pairs) => settle({ answered: true, values: Object.fromEntries(pairs.toArray()) }),
    });
    socket.on('connect', () => {
      connected = true;
      conn.getValues(options.names ?? VALUE_NAMES);
    });
    socket.on('data', (chunk) => conn.receive(chunk));
    socket.on('end', () => conn.receiveEnd());
    socket.on('error', (err) =>
      settle(connected ? { answered: false, values: {}, silence: 'closed' } : new FastCGIError('CONNECT_FAILED', `cannot connect to the FastCGI app at ${address}: ${err.message}`)),
    );
    socket.on('close', () => settle({ answered: false, values: {}, silence: 'closed' }));
  });
}
