// Typed errors. Every error has a stable `code`; decoding errors also carry the stream `offset` of the
// byte that broke a rule, and their message says what was expected, what came and where.

import { ErrRule } from './contract.generated.js';

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

/** Error codes of the wasm decoder, by number: generated from assembly/contract.ts (namespace Err). */
export const DecodeErrorCodes = ErrRule;

export function decodeError(num: number, offset: number, detail = ''): FastCGIProtocolError {
  const known = DecodeErrorCodes[num];
  const code = known?.code ?? `DECODE_ERROR_${num}`;
  return new FastCGIProtocolError(code, `${code}: ${known?.rule ?? 'decoder error'}${detail ? `; ${detail}` : ''}`, offset);
}
