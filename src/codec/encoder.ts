// Encoder: FastCGI records for both sides. Wasm writes every header, padding and pair-length byte;
// large stream payloads are framed without passing through wasm: frameStream() returns the caller's
// own slices interleaved with wasm-written headers, ready for writev / socket.cork().

import { codec, type Codec } from './wasm.js';
import { RecordType, MAX_CONTENT_LENGTH, HEADER_LENGTH } from './constants.js';
import { FastCGIError } from './errors.js';
import { allocBytes, copyBytes } from './bytes.js';

/** A name or value: a string (Latin-1 when every char fits in a byte, else UTF-8) or raw bytes. */
export type PairInput = string | Uint8Array;
export type Pairs = Iterable<readonly [PairInput, PairInput]> | Record<string, PairInput>;

/** Payloads at most this long are framed into one fresh buffer; longer ones as a list of slices. */
const COPY_LIMIT = 16 * 1024;
const utf8 = new TextEncoder();

function checkId(requestId: number): void {
  if (!Number.isInteger(requestId) || requestId < 0 || requestId > 0xffff) {
    throw new FastCGIError('BAD_REQUEST_ID', `request id must be an integer from 0 to 65535, got ${requestId}`);
  }
}
/** A request's own id: BEGIN_REQUEST cannot use 0, the management id. */
function checkBeginId(requestId: number): void {
  checkId(requestId);
  if (requestId === 0) throw new FastCGIError('BAD_REQUEST_ID', 'FCGI_BEGIN_REQUEST needs a nonzero request id');
}
function checkType(type: number): void {
  if (!Number.isInteger(type) || type < 1 || type > 255) {
    throw new FastCGIError('BAD_RECORD_TYPE', `record type must be an integer from 1 to 255, got ${type}`);
  }
}

const NOT_LATIN1 = /[^\x00-\xff]/;
// Node's Buffer writes Latin-1 natively into any Uint8Array; elsewhere a loop does.
const nativeLatin1Write = (globalThis as { Buffer?: { prototype: { latin1Write?: (this: Uint8Array, s: string, offset: number, length: number) => number } } }).Buffer
  ?.prototype.latin1Write;

/** A name or value as it goes on the wire: bytes as given, a Latin-1 string byte for byte, else UTF-8. */
type WireValue = Uint8Array | string;
function wireValue(v: PairInput): WireValue {
  return typeof v === 'string' && NOT_LATIN1.test(v) ? utf8.encode(v) : v;
}
/** Writes a wire value at `at` in `u8`. */
function writeWire(u8: Uint8Array, at: number, v: WireValue): void {
  if (typeof v !== 'string') u8.set(v, at);
  else if (nativeLatin1Write !== undefined) nativeLatin1Write.call(u8, v, at, v.length);
  else for (let i = 0; i < v.length; i++) u8[at + i] = v.charCodeAt(i);
}

/** Bytes of a pair name or value as sent on the wire. */
export function pairBytes(v: PairInput): Uint8Array {
  const w = wireValue(v);
  if (typeof w !== 'string') return w;
  const out = new Uint8Array(w.length);
  writeWire(out, 0, w);
  return out;
}

export interface EncoderOptions {
  /**
   * Small outputs share slabs (see codec/bytes.ts): for a connection that writes each output to its
   * socket and drops it. Off by default: then every output owns its ArrayBuffer.
   */
  pooled?: boolean;
}

const ownBytes = (n: number): Uint8Array => new Uint8Array(n);
const ownCopy = (bytes: Uint8Array): Uint8Array => bytes.slice();

export class Encoder {
  private readonly c: Codec = codec();
  private readonly alloc: (n: number) => Uint8Array;
  private readonly copy: (bytes: Uint8Array) => Uint8Array;

  constructor(options: EncoderOptions = {}) {
    this.alloc = options.pooled ? allocBytes : ownBytes;
    this.copy = options.pooled ? copyBytes : ownCopy;
  }

  /**
   * One record with `content` (at most 65535 bytes) and canonical padding, or `paddingLength` zero bytes
   * of padding (0-255; any amount is legal, spec 3.3, and receivers must skip it).
   */
  record(type: number, requestId: number, content: Uint8Array = EMPTY, paddingLength?: number): Uint8Array {
    checkType(type);
    checkId(requestId);
    if (content.length > MAX_CONTENT_LENGTH) {
      throw new FastCGIError('CONTENT_TOO_LONG', `one record holds at most 65535 content bytes, got ${content.length}`);
    }
    if (paddingLength !== undefined && !(Number.isInteger(paddingLength) && paddingLength >= 0 && paddingLength <= 255)) {
      throw new FastCGIError('BAD_PADDING', `padding must be an integer from 0 to 255, got ${paddingLength}`);
    }
    const c = this.c;
    const at = c.scratch(HEADER_LENGTH);
    let pad = paddingLength ?? 0;
    if (paddingLength === undefined) pad = c.x.recordHeader(at, type, requestId, content.length);
    else c.x.paddedHeader(at, type, requestId, content.length, paddingLength);
    const out = this.alloc(HEADER_LENGTH + content.length + pad);
    out.set(c.u8.subarray(at, at + HEADER_LENGTH), 0);
    out.set(content, HEADER_LENGTH);
    return out;
  }

  beginRequest(requestId: number, role: number, flags = 0): Uint8Array {
    checkBeginId(requestId);
    return this.fixed(RecordType.BEGIN_REQUEST, requestId, (at) => this.c.x.beginBody(at, role & 0xffff, flags & 0xff));
  }
  endRequest(requestId: number, appStatus: number, protocolStatus = 0): Uint8Array {
    return this.fixed(RecordType.END_REQUEST, requestId, (at) => this.c.x.endBody(at, appStatus >>> 0, protocolStatus & 0xff));
  }
  unknownType(type: number): Uint8Array {
    return this.fixed(RecordType.UNKNOWN_TYPE, 0, (at) => this.c.x.unknownTypeBody(at, type & 0xff));
  }
  abortRequest(requestId: number): Uint8Array {
    return this.record(RecordType.ABORT_REQUEST, requestId);
  }

  private fixed(type: number, requestId: number, body: (at: number) => void): Uint8Array {
    checkId(requestId);
    const c = this.c;
    const at = c.scratch(16);
    c.x.recordHeader(at, type, requestId, 8);
    body(at + 8);
    return this.copy(c.u8.subarray(at, at + 16));
  }

  /**
   * Pairs packed into records of `type` (PARAMS by default) so that no pair straddles two records, then,
   * with `terminate` (default for PARAMS), the empty record that ends the stream.
   */
  pairs(requestId: number, pairs: Pairs, type: number = RecordType.PARAMS, terminate = type === RecordType.PARAMS): Uint8Array {
    checkId(requestId);
    checkType(type);
    return this.withPairs(pairs, (c, lens, count, bytes, total) => {
      const out = c.scratch(packedBound(total, count), bytes + total);
      const written = c.x.packPairs(out, type, requestId, lens, count, bytes, terminate ? 1 : 0);
      return this.copy(c.u8.subarray(out, out + written));
    });
  }

  /**
   * The opening of a request as a web server sends it: BEGIN_REQUEST, the params (packed, terminated)
   * and, when given, a whole body as STDIN with its end. One buffer when it is small (a GET is one
   * allocation and one write); a large body follows as slices of itself.
   */
  requestStart(requestId: number, role: number, flags: number, params: Pairs, body?: Uint8Array): Uint8Array[] {
    checkBeginId(requestId);
    return this.withPairs(params, (c, lens, count, bytes, total) => {
      const at = c.scratch(16 + packedBound(total, count), bytes + total);
      c.x.recordHeader(at, RecordType.BEGIN_REQUEST, requestId, 8);
      c.x.beginBody(at + 8, role & 0xffff, flags & 0xff);
      const headLen = 16 + c.x.packPairs(at + 16, RecordType.PARAMS, requestId, lens, count, bytes, 1);
      if (body === undefined) return [this.copy(c.u8.subarray(at, at + headLen))];
      return this.framed(RecordType.STDIN, requestId, body, true, 0, null, at, headLen);
    });
  }

  /**
   * A bare name-value body (the content of PARAMS / GET_VALUES records), without record framing. With
   * `fourByteLengths`, every length is written in the four-byte form, short ones too (legal, spec 3.4;
   * peers rarely send it, so conformance probes do).
   */
  pairsBody(pairs: Pairs, options: { fourByteLengths?: boolean } = {}): Uint8Array {
    return this.withPairs(pairs, (c, lens, count, bytes, total) => {
      const out = c.scratch(total + count * 8, bytes + total);
      const written = c.x.pairsBody(out, lens, count, bytes, options.fourByteLengths ? 1 : 0);
      return this.copy(c.u8.subarray(out, out + written));
    });
  }

  /** Stages the pairs' lengths and bytes in wasm scratch memory for `write`. */
  private withPairs<T>(pairs: Pairs, write: (c: Codec, lens: number, count: number, bytes: number, total: number) => T): T {
    // strings stay strings (their length is their Latin-1 byte count) and are written straight into wasm memory
    const encoded: WireValue[] = [];
    let total = 0;
    let allStrings = true;
    if (Symbol.iterator in pairs) {
      for (const [name, value] of pairs as Iterable<readonly [PairInput, PairInput]>) {
        encoded.push(name, value);
        total += name.length + value.length;
        if (typeof name !== 'string' || typeof value !== 'string') allStrings = false;
      }
    } else {
      // a record's own keys, without the [name, value] arrays Object.entries would make
      const record = pairs as Record<string, PairInput>;
      for (const name in record) {
        if (!Object.hasOwn(record, name)) continue;
        const value = record[name]!;
        encoded.push(name, value);
        total += name.length + value.length;
        if (typeof value !== 'string') allStrings = false;
      }
    }
    // The common case, every name and value a string: one Latin-1 test and one write for them all (a
    // regex test and a native write per string cost more than the packing itself).
    const joined = allStrings ? (encoded as string[]).join('') : '';
    const oneWrite = allStrings && !NOT_LATIN1.test(joined);
    if (!oneWrite) {
      total = 0;
      for (let i = 0; i < encoded.length; i++) {
        const w = wireValue(encoded[i]!);
        encoded[i] = w;
        total += w.length;
      }
    }
    for (const e of encoded) if (e.length > 0x7fffffff) throw new FastCGIError('PAIR_TOO_LONG', 'a name or value is longer than 2^31-1 bytes');
    const count = encoded.length / 2;
    const c = this.c;
    const lens = c.scratch(count * 8 + total);
    const bytes = lens + count * 8;
    const u32 = c.u32;
    const u8 = c.u8;
    const base = lens >>> 2;
    for (let i = 0; i < 2 * count; i++) u32[base + i] = encoded[i]!.length;
    if (oneWrite) writeWire(u8, bytes, joined);
    else {
      let w = bytes;
      for (const e of encoded) {
        writeWire(u8, w, e);
        w += e.length;
      }
    }
    return write(c, lens, count, bytes, total);
  }

  /** FCGI_GET_VALUES asking for `names` (spec 4.1). */
  getValues(names: Iterable<string>): Uint8Array {
    return this.pairs(0, [...names].map((n) => [n, ''] as const), RecordType.GET_VALUES, false);
  }
  /** FCGI_GET_VALUES_RESULT with `values`. */
  getValuesResult(values: Pairs): Uint8Array {
    return this.pairs(0, values, RecordType.GET_VALUES_RESULT, false);
  }

  /**
   * A stream payload (STDIN, STDOUT, STDERR, DATA) cut into records of at most 65528 bytes, so only the
   * last one pads; with `terminate`, the empty record that ends the stream. Small payloads come back as
   * one buffer; large ones as slices of `data` between wasm-written headers (write them with writev).
   */
  stream(type: number, requestId: number, data: Uint8Array, terminate = false): Uint8Array[] {
    checkType(type);
    checkId(requestId);
    return this.framed(type, requestId, data, terminate, 0, null);
  }

  /**
   * The end of a request, as the application sends it: the last STDOUT bytes (may be empty), the STDOUT
   * terminator, the STDERR terminator when stderr was written, and END_REQUEST. One buffer when the
   * bytes are few (a whole small response is then one allocation and one write).
   */
  endOfRequest(requestId: number, appStatus: number, protocolStatus: number, lastStdout: Uint8Array = EMPTY, stderrEnd = false): Uint8Array[] {
    checkId(requestId);
    return this.framed(RecordType.STDOUT, requestId, lastStdout, true, stderrEnd ? 24 : 16, (at) => {
      const x = this.c.x;
      if (stderrEnd) {
        x.recordHeader(at, RecordType.STDERR, requestId, 0);
        at += 8;
      }
      x.recordHeader(at, RecordType.END_REQUEST, requestId, 8);
      x.endBody(at + 8, appStatus >>> 0, protocolStatus & 0xff);
    });
  }

  /**
   * `data` framed as records of `type`, then `trailerLen` more bytes that `trailer` writes at its address;
   * led by `prefixLen` bytes already written at `prefixAt` in wasm memory, if any.
   */
  private framed(type: number, requestId: number, data: Uint8Array, terminate: boolean, trailerLen: number, trailer: ((at: number) => void) | null, prefixAt = 0, prefixLen = 0): Uint8Array[] {
    const c = this.c;
    const len = data.length;
    const records = Math.ceil(len / c.STREAM_CUT);
    const at = c.scratch(records * 8 + 16 + trailerLen, prefixAt + prefixLen);
    const n = c.x.frameStream(at, type, requestId, len, terminate ? 1 : 0);
    const pad = (8 - (len & 7)) & 7;
    const tail = at + n * 8;
    const tailLen = (n > 0 ? pad : 0) + (terminate ? 8 : 0) + trailerLen;
    trailer?.(tail + tailLen - trailerLen);
    const u8 = c.u8;
    if (len <= COPY_LIMIT) {
      const out = this.alloc(prefixLen + n * 8 + len + tailLen);
      if (prefixLen > 0) out.set(u8.subarray(prefixAt, prefixAt + prefixLen), 0);
      if (n > 0) {
        out.set(u8.subarray(at, at + 8), prefixLen);
        out.set(data, prefixLen + 8);
      }
      out.set(u8.subarray(tail, tail + tailLen), prefixLen + n * 8 + len);
      return [out];
    }
    const parts: Uint8Array[] = prefixLen > 0 ? [this.copy(u8.subarray(prefixAt, prefixAt + prefixLen))] : [];
    for (let k = 0; k < n; k++) {
      parts.push(this.copy(u8.subarray(at + k * 8, at + k * 8 + 8)));
      parts.push(data.subarray(k * c.STREAM_CUT, Math.min(len, (k + 1) * c.STREAM_CUT)));
    }
    if (tailLen > 0) parts.push(this.copy(u8.subarray(tail, tail + tailLen)));
    return parts;
  }
}

const EMPTY = new Uint8Array(0);

/** Room packPairs may need: prefixes, headers, padding, and room to stage one pair longer than a record (generous). */
function packedBound(total: number, count: number): number {
  return 2 * (total + count * 8) + 16 * (Math.ceil(total / MAX_CONTENT_LENGTH) + count + 2) + 8192;
}
