// Feeding a connection's decoder: a protocol error is the connection's end, never an exception.

import type { Decoder } from '../codec/decoder.js';
import { FastCGIProtocolError } from '../codec/errors.js';

/** Pushes bytes (or the end of the stream, for null) into `decoder`; a protocol error goes to `fail`. False after one. */
export function feed(decoder: Decoder, chunk: Uint8Array | null, fail: (error: FastCGIProtocolError) => void): boolean {
  try {
    if (chunk === null) decoder.end();
    else decoder.push(chunk);
    return true;
  } catch (e) {
    if (!(e instanceof FastCGIProtocolError)) throw e;
    fail(e);
    return false;
  }
}
