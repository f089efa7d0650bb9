// The findings the inspector reports, by stable code. Protocol errors the codec raises keep the codec's
// own codes (DecodeErrorCodes in src/codec/errors.ts: BAD_VERSION, NV_TRUNCATED, TRUNCATED_CONTENT, ...).

import type { Severity } from './types.js';

export const FindingCodes = {
  /** A name-value pair split across two PARAMS records (legal; php-fpm rejects it, php issue #16042). */
  PAIR_SPLIT: 'warning',
  /** A name or value longer than 127 bytes written with a one-byte length (nginx 1.22 with a long fastcgi_param). */
  ONE_BYTE_LONG_LENGTH: 'error',
  /** A stream (PARAMS, STDIN, DATA) never closed by its empty record. */
  MISSING_TERMINATOR: 'warning',
  /** END_REQUEST before the empty STDOUT record (php-fpm does this; a strict client may wait). */
  END_BEFORE_STDOUT_END: 'warning',
  /** A record for a request id with no active request. */
  INACTIVE_REQUEST_ID: 'error',
  /** BEGIN_REQUEST for a request id that is still active. */
  BEGIN_FOR_ACTIVE_ID: 'error',
  /** A record type FastCGI 1.0 does not define. */
  UNKNOWN_RECORD_TYPE: 'warning',
  /** A record type only the other side sends (e.g. STDOUT towards the app). */
  WRONG_DIRECTION: 'error',
  /** A record after its stream's empty record. */
  AFTER_STREAM_END: 'error',
  /** STDOUT ended (or the request did) before the empty line that ends the CGI headers. */
  INCOMPLETE_CGI_HEADERS: 'error',
  /** A CGI header line or Status the CGI parser rejected (BAD_CGI_HEADER, BAD_CGI_STATUS, HEADERS_TOO_LARGE). */
  BAD_CGI_RESPONSE: 'error',
  /** A request that never got its END_REQUEST. */
  MISSING_END_REQUEST: 'error',
  /** The stream ended inside a record (the codec's TRUNCATED_HEADER/CONTENT/PADDING carry this severity too). */
  TRUNCATED_RECORD: 'error',
  /** Bytes the capture lost (segments never captured): the direction cannot be decoded past them. */
  TCP_GAP: 'error',
  /** The capture began inside a connection: bytes before its first whole record were skipped. */
  CAPTURE_MIDSTREAM: 'warning',
  /** A capture file that ends in the middle of a block or packet (tcpdump stopped hard). */
  TRUNCATED_CAPTURE: 'warning',
  /** A capture file or hex text that cannot be read. */
  BAD_INPUT: 'error',
} as const satisfies Record<string, Severity>;

export type FindingCode = keyof typeof FindingCodes;

/** Thrown by the input readers (hex, pcap, pcapng); the inspector turns it into a BAD_INPUT finding. */
export class InspectInputError extends Error {
  readonly code: string;
  readonly offset: number;
  constructor(code: string, message: string, offset: number) {
    super(`${message} (at input offset ${offset})`);
    this.name = 'InspectInputError';
    this.code = code;
    this.offset = offset;
  }
}
