// The record decoder: one call per window of the caller's chunk, resumable at any byte, one state per
// decoder (its slot, see heap.ts), so switching between decoders copies nothing.
//
// The TypeScript side copies into INPUT only the part of its chunk that wasm must read (a "window") and
// calls decode(state, chunkLen, win, winLen, base). Wasm walks records from offset `win` and writes
// events that name chunk offsets: every record's content is handed on as FRAGMENT events, views of the
// caller's own chunk, one per chunk the content touches, the first marked START and the last END. Wasm
// skips content it does not read (STDIN, STDOUT, STDERR, DATA, unknown types) and padding, possibly past
// the window; it returns the chunk offset where the next window must start and, in Globals.WANT, how
// many bytes that window needs at least. A chunk lying wholly inside content wasm does not read is
// taken by the TypeScript side alone, which writes the state's REM and STARTED as walk() would.

import { RecordType, Ev, Err, Frag, Phase, State, Globals, VERSION } from './contract';
import { INPUT, GLOBALS } from './heap';
import { emit, eventCount } from './events';
import { feedPairs, hasCarry, discardCarry, pairErrorAt, carriedCount } from './pairs';

let wantLen: u32 = 0;
/** Stream offset of the error piece() returns. */
let errorAt: f64 = 0;

@inline function isPairType(t: u32): bool {
  return t == RecordType.PARAMS || t == RecordType.GET_VALUES || t == RecordType.GET_VALUES_RESULT;
}
@inline function isFixedType(t: u32): bool {
  return t == RecordType.BEGIN_REQUEST || t == RecordType.END_REQUEST || t == RecordType.UNKNOWN_TYPE;
}
/** The stream record types (spec 3.3): an empty one ends its stream. */
@inline function isStreamType(t: u32): bool {
  return t >= RecordType.PARAMS && t <= RecordType.DATA;
}
/** The carry key of a pair stream: PARAMS per request id, the management pair records per type. */
@inline function pairKey(t: u32, id: u32): u32 { return (t << 16) | id; }

/** Emits the decoded body of a BEGIN_REQUEST, END_REQUEST or UNKNOWN_TYPE record (8 bytes at ptr). */
function emitFixed(t: u32, typeId: u32, ptr: usize): void {
  if (t == RecordType.BEGIN_REQUEST) {
    emit(Ev.BEGIN | typeId, (<u32>load<u8>(ptr) << 8) | <u32>load<u8>(ptr + 1), <u32>load<u8>(ptr + 2), 0);
  } else if (t == RecordType.END_REQUEST) {
    const app = (<u32>load<u8>(ptr) << 24) | (<u32>load<u8>(ptr + 1) << 16) | (<u32>load<u8>(ptr + 2) << 8) | <u32>load<u8>(ptr + 3);
    emit(Ev.END | typeId, app, <u32>load<u8>(ptr + 4), 0);
  } else {
    emit(Ev.UNKNOWN_TYPE | typeId, <u32>load<u8>(ptr), 0, 0);
  }
}

/** Checks a header; returns an error code or 0. */
function checkHeader(version: u32, t: u32, id: u32, clen: u32): u32 {
  if (version != VERSION) return Err.BAD_VERSION;
  if (t == RecordType.BEGIN_REQUEST) {
    if (clen != 8) return Err.BAD_BEGIN_LENGTH;
    if (id == 0) return Err.BEGIN_ON_NULL_ID;
  } else if (t == RecordType.END_REQUEST) {
    if (clen != 8) return Err.BAD_END_LENGTH;
  } else if (t == RecordType.UNKNOWN_TYPE) {
    if (clen != 8) return Err.BAD_UNKNOWN_TYPE_LENGTH;
  }
  return 0;
}

/**
 * Marks the decoder dead with `code` found at stream offset `at`. The events written since event
 * `keep` (the failing record's, in this chunk) are dropped, so that a record is completed whole or not
 * at all, however the stream was cut into chunks.
 */
function fail(st: usize, code: u32, at: f64, keep: u32, chunkLen: u32): u32 {
  eventCount = keep;
  emit(Ev.ERROR, code, 0, 0);
  store<u32>(st + State.ERROR, code);
  store<f64>(st + State.ERR_AT, at);
  return chunkLen;
}

/**
 * Hands on `n` content bytes at chunk offset `p` of record (t, id): decodes the pairs in them, emits
 * their FRAGMENT with `flags` and `sizes` (the record's padding << 8 | content length << 16) and, when
 * they end the record, its decoded body (fixed types: the 8 bytes at `body`). A pair stream checks its
 * partial pairs at the record's end, so that the outcome does not depend on how the stream was cut
 * (a pair split across two chunks is carried too, but only within its record). Returns an error code
 * or 0 (with its stream offset in errorAt; `recAt` is the record header's).
 */
function piece(st: usize, t: u32, id: u32, p: u32, n: u32, flags: u32, sizes: u32, recAt: f64, win: u32, base: f64, body: usize): u32 {
  const typeId = (t << 8) | (id << 16);
  if (isPairType(t)) {
    const key = pairKey(t, id);
    if (n > 0) {
      const e = feedPairs(st, key, typeId, p, n, win, base);
      if (e != 0) {
        errorAt = pairErrorAt;
        return e;
      }
    }
    if ((flags & Frag.END) != 0 && hasCarry(st, key)) {
      errorAt = recAt;
      // an empty PARAMS ends the stream; GET_VALUES(_RESULT) records stand alone (spec 3.3)
      if (t != RecordType.PARAMS || (sizes >>> 16) == 0) return Err.NV_TRUNCATED;
      // a pair runs on into the stream's next record (legal, but php-fpm rejects it): tools report it
      if (load<u32>(st + State.HELD) > load<u32>(st + State.BUDGET)) return Err.PARTIAL_PAIRS_TOO_LARGE;
      flags |= Frag.PAIR_OPEN;
    }
  }
  emit(Ev.FRAGMENT | typeId, p, n, flags | sizes);
  if ((flags & Frag.END) != 0 && isFixedType(t)) emitFixed(t, typeId, body);
  return 0;
}

export function decode(st: usize, chunkLen: u32, win: u32, winLen: u32, base: f64): u32 {
  eventCount = 0;
  wantLen = 0;
  carriedCount = 0;
  const next = walk(st, chunkLen, win, winLen, base);
  store<u32>(GLOBALS + Globals.EVENTS, eventCount);
  store<u32>(GLOBALS + Globals.WANT, wantLen);
  store<u32>(GLOBALS + Globals.DONE, carriedCount);
  return next;
}

function walk(st: usize, chunkLen: u32, win: u32, winLen: u32, base: f64): u32 {
  if (load<u32>(st + State.ERROR) != 0) return chunkLen;
  const we = win + winLen;
  let p = win;
  let phase = load<u32>(st + State.PHASE);
  let rem = load<u32>(st + State.REM);

  while (p < chunkLen) {
    if (phase == Phase.HEADER) {
      // 1. Find the 8 header bytes: in the window, or gathered across a chunk boundary.
      let hdrLen = load<u32>(st + State.HDR_LEN);
      let hp: usize;
      let adv: u32 = 0; // header bytes still to step over once the record is taken
      if (hdrLen == 0 && p + 8 <= we) {
        hp = INPUT + (p - win);
        adv = 8;
      } else {
        const need = 8 - hdrLen;
        if (p + need > we && we < chunkLen) { wantLen = min(need, chunkLen - p); break; }
        const take = min(need, we - p);
        memory.copy(st + State.HDR + hdrLen, INPUT + (p - win), take);
        hdrLen += take;
        p += take;
        store<u32>(st + State.HDR_LEN, hdrLen);
        if (hdrLen < 8) break; // the chunk ended inside the header
        hp = st + State.HDR;
      }
      const hdrAt = base + <f64>(p + adv) - 8;
      const t = <u32>load<u8>(hp, 1);
      const id = (<u32>load<u8>(hp, 2) << 8) | <u32>load<u8>(hp, 3);
      const clen = (<u32>load<u8>(hp, 4) << 8) | <u32>load<u8>(hp, 5);
      const plen = <u32>load<u8>(hp, 6);
      const bad = checkHeader(<u32>load<u8>(hp), t, id, clen);
      if (bad != 0) return fail(st, bad, hdrAt, eventCount, chunkLen);

      // 2. Content wasm must read has to be in the window whenever the chunk holds it.
      const cStart = p + adv;
      const inChunk = chunkLen - cStart;
      if ((isPairType(t) || isFixedType(t)) && cStart + min(clen, inChunk) > we && we < chunkLen) {
        wantLen = adv + min(clen, inChunk);
        break;
      }

      // 3. Take the record: whole when its content is in this chunk, else piece by piece (CONTENT).
      store<u32>(st + State.HDR_LEN, 0);
      p = cStart;
      if (t == RecordType.BEGIN_REQUEST) discardCarry(st, pairKey(RecordType.PARAMS, id));
      if (clen <= inChunk) {
        const flags = Frag.START | Frag.END | (clen == 0 && isStreamType(t) ? Frag.STREAM_END : 0);
        const sizes = (plen << 8) | (clen << 16);
        if (isPairType(t) || isFixedType(t)) {
          const keep = eventCount;
          const e = piece(st, t, id, p, clen, flags, sizes, hdrAt, win, base, INPUT + (p - win));
          if (e != 0) return fail(st, e, errorAt, keep, chunkLen);
        } else {
          emit(Ev.FRAGMENT | (t << 8) | (id << 16), p, clen, flags | sizes); // the hot path: a whole stream record
        }
        p += clen;
        if (plen <= chunkLen - p) {
          p += plen; // its padding too: on to the next header
        } else {
          phase = Phase.PADDING;
          rem = plen;
        }
      } else {
        store<f64>(st + State.REC_AT, hdrAt);
        store<u32>(st + State.TYPE, t);
        store<u32>(st + State.ID, id);
        store<u32>(st + State.CLEN, clen);
        store<u32>(st + State.PLEN, plen);
        store<u32>(st + State.BODY_LEN, 0);
        store<u32>(st + State.STARTED, 0);
        phase = Phase.CONTENT;
        rem = clen;
      }
    } else if (phase == Phase.CONTENT) {
      // A record whose content runs across chunks: hand on this chunk's piece of it.
      const t = load<u32>(st + State.TYPE);
      const avail = min(rem, chunkLen - p);
      const fixed = isFixedType(t);
      if ((fixed || isPairType(t)) && p + avail > we && we < chunkLen) { wantLen = avail; break; }
      if (fixed) {
        const got = load<u32>(st + State.BODY_LEN);
        memory.copy(st + State.BODY + got, INPUT + (p - win), avail);
        store<u32>(st + State.BODY_LEN, got + avail);
      }
      rem -= avail;
      const flags = (load<u32>(st + State.STARTED) != 0 ? 0 : Frag.START) | (rem == 0 ? Frag.END : 0);
      const sizes = (load<u32>(st + State.PLEN) << 8) | (load<u32>(st + State.CLEN) << 16);
      const keep = eventCount;
      const e = piece(st, t, load<u32>(st + State.ID), p, avail, flags, sizes, load<f64>(st + State.REC_AT), win, base, st + State.BODY);
      if (e != 0) return fail(st, e, errorAt, keep, chunkLen);
      store<u32>(st + State.STARTED, 1);
      p += avail;
      if (rem == 0) {
        phase = Phase.PADDING;
        rem = load<u32>(st + State.PLEN);
      }
    } else {
      const skipped = min(rem, chunkLen - p);
      p += skipped;
      rem -= skipped;
      if (rem == 0) phase = Phase.HEADER;
    }
  }
  store<u32>(st + State.PHASE, phase);
  store<u32>(st + State.REM, rem);
  return p;
}

/** End of stream: the error a truncated stream ends with, or 0. */
export function finish(st: usize): u32 {
  const dead = load<u32>(st + State.ERROR);
  if (dead != 0) return dead;
  const phase = load<u32>(st + State.PHASE);
  if (phase == Phase.HEADER && load<u32>(st + State.HDR_LEN) > 0) return Err.TRUNCATED_HEADER;
  if (phase == Phase.CONTENT) return Err.TRUNCATED_CONTENT;
  if (phase == Phase.PADDING && load<u32>(st + State.REM) > 0) return Err.TRUNCATED_PADDING;
  // A pair left partial by a PARAMS stream that never ended is the protocol layer's concern (the
  // request never got its params, or the records were for an inactive id and are to be ignored).
  return 0;
}

/** decodePairList(): the pairs of one standalone body, fed in windows; pairsEnd() says if it ended inside a pair. */
export function pairs(st: usize, win: u32, winLen: u32): u32 {
  eventCount = 0;
  carriedCount = 0;
  const e = feedPairs(st, 0, 0, win, winLen, win, 0);
  store<u32>(GLOBALS + Globals.EVENTS, eventCount);
  store<u32>(GLOBALS + Globals.DONE, carriedCount);
  if (e != 0) store<f64>(st + State.ERR_AT, pairErrorAt);
  return e;
}
export function pairsEnd(st: usize): u32 {
  return hasCarry(st, 0) ? Err.NV_TRUNCATED : 0;
}
