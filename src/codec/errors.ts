// Typed errors. Every error has a stable `code`; decoding errors also carry the stream `offset` of the
// byte that broke a rule, and their message says what was expected, what came and where.

export class FastCGIError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'FastCGIError';
    this.code = code;
  }
}

/** The peer's bytes broke the protocol: the connection that carried them cannot go on. */
export class FastCGIProtocolError extends FastCGIError {
  /** Offset in the decoded stream (bytes since the decoder started) where the broken rule was found. */
  readonly offset: number;
  constructor(code: string, message: string, offset: number) {
    super(code, `${message} (at stream offset ${offset})`);
    this.name = 'FastCGIProtocolError';
    this.offset = offset;
  }
}

/** Error codes of the wasm decoder, by number (assembly/constants.ts, namespace Err). */
export const DecodeErrorCodes: Record<number, { code: string; rule: string }> = {
  1: { code: 'BAD_VERSION', rule: 'a record header must have version 1 (spec 3.3)' },
  2: { code: 'BAD_BEGIN_LENGTH', rule: 'FCGI_BEGIN_REQUEST content must be exactly 8 bytes (spec 5.1)' },
  3: { code: 'BEGIN_ON_NULL_ID', rule: 'FCGI_BEGIN_REQUEST must not use the null request id 0 (spec 3.3)' },
  4: { code: 'BAD_END_LENGTH', rule: 'FCGI_END_REQUEST content must be exactly 8 bytes (spec 5.5)' },
  5: { code: 'BAD_UNKNOWN_TYPE_LENGTH', rule: 'FCGI_UNKNOWN_TYPE content must be exactly 8 bytes (spec 4.2)' },
  6: { code: 'NV_TRUNCATED', rule: 'a name-value pair must be complete before its stream or record ends (spec 3.4)' },
  7: { code: 'PAIR_TOO_LONG', rule: 'a name-value pair declared longer than the configured pair limit' },
  8: { code: 'TOO_MANY_PARTIAL_PAIRS', rule: 'more streams hold a partial name-value pair than the decoder allows (256)' },
  9: { code: 'TRUNCATED_HEADER', rule: 'the stream ended inside a record header' },
  10: { code: 'TRUNCATED_CONTENT', rule: 'the stream ended inside a record content' },
  11: { code: 'TRUNCATED_PADDING', rule: 'the stream ended inside a record padding' },
  12: { code: 'OUT_OF_MEMORY', rule: 'the decoder could not grow its memory' },
};

export function decodeError(num: number, offset: number, detail = ''): FastCGIProtocolError {
  const known = DecodeErrorCodes[num];
  const code = known?.code ?? `DECODE_ERROR_${num}`;
  return new FastCGIProtocolError(code, `${code}: ${known?.rule ?? 'decoder error'}${detail ? `; ${detail}` : ''}`, offset);
}
