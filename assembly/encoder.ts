// The record encoder. It writes record headers, padding and pair length prefixes into a scratch area the
// TypeScript side names (above the decoder's arena); payload bytes of streams are never copied through
// wasm: frameStream() writes only the headers and the tail, and the caller interleaves its own slices.

import { RecordType, HEADER_LEN } from './contract';

/** Content per record when framing a stream: the largest multiple of 8 below 65536, so only the last record pads. */
export const STREAM_CUT: u32 = 0xfff8;
/** The most content one PARAMS record carries. */
const MAX_PAIRS_CONTENT: u32 = 0xffff;

@inline function padOf(len: u32): u32 { return (8 - (len & 7)) & 7; }

/** Writes an 8-byte header at out. */
@inline function header(out: usize, t: u32, id: u32, clen: u32, plen: u32): void {
  store<u8>(out, 1);
  store<u8>(out, <u8>t, 1);
  store<u8>(out, <u8>(id >> 8), 2);
  store<u8>(out, <u8>id, 3);
  store<u8>(out, <u8>(clen >> 8), 4);
  store<u8>(out, <u8>clen, 5);
  store<u8>(out, <u8>plen, 6);
  store<u8>(out, 0, 7);
}

/** A header for `clen` content bytes with canonical padding; returns the padding length. */
export function recordHeader(out: usize, t: u32, id: u32, clen: u32): u32 {
  const plen = padOf(clen);
  header(out, t, id, clen, plen);
  return plen;
}

/**
 * A header with the padding the caller chose (0-255): the spec lets a sender pad as it likes and every
 * receiver must skip it (spec 3.3 "Padding"), so a conformance probe sends 0 and 255 on purpose.
 */
export function paddedHeader(out: usize, t: u32, id: u32, clen: u32, plen: u32): void {
  header(out, t, id, clen, plen & 0xff);
}

/**
 * Frames `len` payload bytes of stream `t` for request `id`: writes one header per STREAM_CUT bytes at
 * out, out+8, ..., then the tail: the last record's padding and, if `terminate`, the empty record that
 * ends the stream. Returns the number of records (0 for an empty payload).
 */
export function frameStream(out: usize, t: u32, id: u32, len: u32, terminate: bool): u32 {
  let n: u32 = 0;
  let left = len;
  let pad: u32 = 0;
  while (left > 0) {
    const clen = min(left, STREAM_CUT);
    pad = padOf(clen);
    header(out + (<usize>n << 3), t, id, clen, pad);
    left -= clen;
    n++;
  }
  const tail = out + (<usize>n << 3);
  memory.fill(tail, 0, pad);
  if (terminate) header(tail + pad, t, id, 0, 0);
  return n;
}

/** The fixed 8-byte bodies. */
export function beginBody(out: usize, role: u32, flags: u32): void {
  store<u8>(out, <u8>(role >> 8));
  store<u8>(out, <u8>role, 1);
  store<u8>(out, <u8>flags, 2);
  memory.fill(out + 3, 0, 5);
}
export function endBody(out: usize, appStatus: u32, protocolStatus: u32): void {
  store<u8>(out, <u8>(appStatus >> 24));
  store<u8>(out, <u8>(appStatus >> 16), 1);
  store<u8>(out, <u8>(appStatus >> 8), 2);
  store<u8>(out, <u8>appStatus, 3);
  store<u8>(out, <u8>protocolStatus, 4);
  memory.fill(out + 5, 0, 3);
}
export function unknownTypeBody(out: usize, t: u32): void {
  store<u8>(out, <u8>t);
  memory.fill(out + 1, 0, 7);
}

@inline function lengthSize(n: u32): u32 { return n > 127 ? 4 : 1; }
@inline function putLength(at: usize, n: u32, long: bool = false): usize {
  if (n > 127 || long) {
    store<u8>(at, <u8>((n >> 24) | 0x80));
    store<u8>(at, <u8>(n >> 16), 1);
    store<u8>(at, <u8>(n >> 8), 2);
    store<u8>(at, <u8>n, 3);
    return at + 4;
  }
  store<u8>(at, <u8>n);
  return at + 1;
}

/**
 * Packs `count` pairs into records of type t (PARAMS, GET_VALUES, GET_VALUES_RESULT) for request id.
 * `lens` holds 2 * count u32 lengths (name, value); `bytes` holds every name then value, back to back.
 * Records are cut between pairs, so no pair straddles two records (php-fpm parses each PARAMS record on
 * its own) unless a single pair is longer than a record can hold. With `terminate`, the empty record
 * that ends the stream follows. Returns the number of bytes written at out.
 */
export function packPairs(out: usize, t: u32, id: u32, lens: usize, count: u32, bytes: usize, terminate: bool): u32 {
  let w = out;
  let i: u32 = 0;
  let src = bytes;
  while (i < count) {
    // Take as many whole pairs as fit in one record.
    let clen: u32 = 0;
    let j = i;
    while (j < count) {
      const n = load<u32>(lens + (<usize>j << 3)), v = load<u32>(lens + (<usize>j << 3), 4);
      const size = lengthSize(n) + lengthSize(v) + n + v;
      if (clen + size > MAX_PAIRS_CONTENT) break;
      clen += size;
      j++;
    }
    if (j == i) {
      // One pair alone exceeds a record: it has to straddle (a peer like php-fpm will reject it).
      const n = load<u32>(lens + (<usize>i << 3)), v = load<u32>(lens + (<usize>i << 3), 4);
      const head = w + 4096; // stage the whole pair contiguously after the space its records need
      let h = putLength(head, n);
      h = putLength(h, v);
      const total = <u32>(h - head) + n + v;
      const staged = (w + <usize>total + ((<usize>total / MAX_PAIRS_CONTENT + 1) << 4) + 15) & ~15;
      memory.copy(staged, head, h - head);
      memory.copy(staged + (h - head), src, n + v);
      src += n + v;
      let left = total, from = staged;
      while (left > 0) {
        const c = min(left, MAX_PAIRS_CONTENT);
        const p = recordHeader(w, t, id, c);
        memory.copy(w + HEADER_LEN, from, c);
        memory.fill(w + HEADER_LEN + c, 0, p);
        w += HEADER_LEN + c + p;
        from += c;
        left -= c;
      }
      i++;
      continue;
    }
    const p = recordHeader(w, t, id, clen);
    let c = w + HEADER_LEN;
    for (; i < j; i++) {
      const n = load<u32>(lens + (<usize>i << 3)), v = load<u32>(lens + (<usize>i << 3), 4);
      c = putLength(c, n);
      c = putLength(c, v);
      memory.copy(c, src, n + v);
      c += n + v;
      src += n + v;
    }
    memory.fill(c, 0, p);
    w = c + p;
  }
  if (terminate) {
    header(w, t, id, 0, 0);
    w += HEADER_LEN;
  }
  return <u32>(w - out);
}

/**
 * A bare name-value body (no records): length prefixes and bytes. With `long`, every length takes the
 * four-byte form, even a short one (legal per spec 3.4, vector N05; a conformance probe sends it).
 * Returns the bytes written at out.
 */
export function pairsBody(out: usize, lens: usize, count: u32, bytes: usize, long: bool): u32 {
  let w = out;
  let src = bytes;
  for (let i: u32 = 0; i < count; i++) {
    const n = load<u32>(lens + (<usize>i << 3)), v = load<u32>(lens + (<usize>i << 3), 4);
    w = putLength(w, n, long);
    w = putLength(w, v, long);
    memory.copy(w, src, n + v);
    w += n + v;
    src += n + v;
  }
  return <u32>(w - out);
}
