// Exit statuses of `fcgi request` and `fcgi probe` when something other than the app's own answer
// decides them (sysexits.h numbers, so they do not look like a usage error or a crash). The README
// and each command's --help list them.

import { FastCGIError } from '../codec/errors.js';

export const EXIT = {
  /** Bad flags or arguments. */
  USAGE: 2,
  /** No connection: refused, no such socket, bad address. */
  CONNECT: 69,
  /** No answer in time (connecting included). */
  TIMEOUT: 75,
  /** The app broke FastCGI, closed the connection before END_REQUEST, or sent an unreadable CGI head. */
  PROTOCOL: 76,
  /** END_REQUEST with a protocol status other than REQUEST_COMPLETE (CANT_MPX_CONN, OVERLOADED, UNKNOWN_ROLE). */
  STATUS: 77,
} as const;

export const EXIT_HELP = `exit status: the app's appStatus (mod 256) when the request completes; otherwise
  ${EXIT.USAGE} bad usage, ${EXIT.CONNECT} cannot connect, ${EXIT.TIMEOUT} timed out, ${EXIT.PROTOCOL} protocol error or connection closed
  before END_REQUEST (or an unreadable CGI head with --include/--body-only), ${EXIT.STATUS} a protocol status
  other than REQUEST_COMPLETE (CANT_MPX_CONN, OVERLOADED, UNKNOWN_ROLE).`;

const BY_CODE: Record<string, number> = {
  BAD_ADDRESS: EXIT.USAGE,
  BAD_PATH: EXIT.USAGE,
  CONNECT_FAILED: EXIT.CONNECT,
  CONNECT_TIMEOUT: EXIT.TIMEOUT,
  TIMEOUT_FIRST_BYTE: EXIT.TIMEOUT,
  TIMEOUT_IDLE: EXIT.TIMEOUT,
  TIMEOUT_TOTAL: EXIT.TIMEOUT,
  CANT_MPX_CONN: EXIT.STATUS,
  OVERLOADED: EXIT.STATUS,
  UNKNOWN_ROLE: EXIT.STATUS,
  PROTOCOL_STATUS: EXIT.STATUS,
};

/** The exit status for a failed request; anything not listed is a protocol-level failure. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof FastCGIError) return BY_CODE[error.code] ?? EXIT.PROTOCOL;
  return EXIT.PROTOCOL;
}
