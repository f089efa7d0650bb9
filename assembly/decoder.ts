// The record decoder: one call per window of the caller's chunk, resumable at any byte.
//
// The TypeScript side copies into INPUT only the part of its chunk that wasm must read (a "window") and
// calls decode(chunkLen, win, winLen). Wasm walks records from offset `win`, writes events that name
// chunk offsets (so payloads are handed on as views of the caller's own chunk, never copied), and skips
// opaque content and padding without reading it, possibly past the window. It returns the chunk offset
// where the next window must start and, in STATE (S_WANT), how many bytes that window needs at least.
// State that must survive a chunk boundary (a split header, a fixed body, the position inside a record,
// partial pairs) lives in STATE and the carry arena, which the TypeScript side may swap per connection.

import { RecordType, Ev, Err, VERSION } from './constants';
import {
  STATE, INPUT, Phase, S_PHASE, S_HDR_LEN, S_HDR, S_TYPE, S_ID, S_CLEN, S_PLEN, S_REM, S_BODY_LEN, S_BODY,
  S_ERROR, S_ERR_AT, S_REC_AT, S_EVENTS, S_WANT,
} from './layout';
import { emit, eventCount, setEventWord } from './events';
import { feedPairs, hasCarry, discardCarry, releaseDone, pairErrorAt } from './pairs';

let wantLen: u32 = 0;
/** Flag in a RECORD event's padding word (or a RECORD_END's last word): a pair continues past this record. */
const PAIR_OPEN: u32 = 0x100;

@inline function isPairType(t: u32): bool {
  return t == RecordType.PARAMS || t == RecordType.GET_VALUES || t == RecordType.GET_VALUES_RESULT;
}
@inline function isFixedType(t: u32): bool {
  return t == RecordType.BEGIN_REQUEST || t == RecordType.END_REQUEST || t == RecordType.UNKNOWN_TYPE;
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
 * Marks the decoder dead with `code` found at stream offset `at`. The events of the record being
 * decoded since event `keep` are dropped, so that a record is delivered whole or not at all, however
 * the stream was cut into chunks.
 */
function fail(code: u32, at: f64, keep: u32, chunkLen: u32): u32 {
  eventCount = keep;
  emit(Ev.ERROR, code, 0, 0);
  store<u32>(STATE + S_ERROR, code);
  store<f64>(STATE + S_ERR_AT, at);
  return chunkLen;
}

export function decode(chunkLen: u32, win: u32, winLen: u32, base: f64): u32 {
  eventCount = 0;
  wantLen = 0;
  releaseDone();
  const next = walk(chunkLen, win, winLen, base);
  store<u32>(STATE + S_EVENTS, eventCount);
  store<u32>(STATE + S_WANT, wantLen);
  return next;
}

/**
 * Takes up to n bytes of a chunk as content of the current record without looking at them, when that
 * record is split across chunks and wasm needs none of its bytes (STDIN, STDOUT, STDERR, DATA, unknown
 * types) and does not end within them. Returns the bytes taken (0: decode the chunk instead).
 */
export function skipContent(n: u32): u32 {
  const st = STATE;
  if (load<u32>(st + S_ERROR) != 0 || load<u32>(st + S_PHASE) != Phase.CONTENT) return 0;
  const t = load<u32>(st + S_TYPE);
  if (isPairType(t) || isFixedType(t)) return 0;
  const rem = load<u32>(st + S_REM);
  if (rem <= n) return 0;
  store<u32>(st + S_REM, rem - n);
  return n;
}

function walk(chunkLen: u32, win: u32, winLen: u32, base: f64): u32 {
  const st = STATE;
  if (load<u32>(st + S_ERROR) != 0) return chunkLen;
  const we = win + winLen;
  let p = win;
  let phase = load<u32>(st + S_PHASE);
  let rem = load<u32>(st + S_REM);

  while (p < chunkLen) {
    if (phase == Phase.HEADER) {
      // 1. Find the 8 header bytes: in the window, or gathered across a chunk boundary.
      let hdrLen = load<u32>(st + S_HDR_LEN);
      let hp: usize;
      let adv: u32 = 0; // header bytes still to step over once the record is taken
      if (hdrLen == 0 && p + 8 <= we) {
        hp = INPUT + (p - win);
        adv = 8;
      } else {
        const need = 8 - hdrLen;
        if (p + need > we && we < chunkLen) { wantLen = min(need, chunkLen - p); break; }
        const take = min(need, we - p);
        memory.copy(st + S_HDR + hdrLen, INPUT + (p - win), take);
        hdrLen += take;
        p += take;
        store<u32>(st + S_HDR_LEN, hdrLen);
        if (hdrLen < 8) break; // the chunk ended inside the header
        hp = st + S_HDR;
      }
      const hdrAt = base + <f64>(p + adv) - 8;
      const t = <u32>load<u8>(hp, 1);
      const id = (<u32>load<u8>(hp, 2) << 8) | <u32>load<u8>(hp, 3);
      const clen = (<u32>load<u8>(hp, 4) << 8) | <u32>load<u8>(hp, 5);
      const plen = <u32>load<u8>(hp, 6);
      const bad = checkHeader(<u32>load<u8>(hp), t, id, clen);
      if (bad != 0) return fail(bad, hdrAt, eventCount, chunkLen);

      // 2. Content wasm must read has to be in the window whenever the chunk holds it.
      const needsBytes = isPairType(t) || isFixedType(t);
      const cStart = p + adv;
      const inChunk = chunkLen - cStart;
      if (needsBytes && cStart + min(clen, inChunk) > we && we < chunkLen) {
        wantLen = adv + min(clen, inChunk);
        break;
      }

      // 3. Take the record.
      store<u32>(st + S_HDR_LEN, 0);
      p = cStart;
      const typeId = (t << 8) | (id << 16);
      if (t == RecordType.BEGIN_REQUEST) discardCarry(pairKey(RecordType.PARAMS, id));
      if (clen <= inChunk) {
        const first = emit(Ev.RECORD | typeId, p, clen, plen);
        if (isPairType(t)) {
          const key = pairKey(t, id);
          if (clen > 0) {
            const e = feedPairs(key, typeId, p, clen, win, base);
            if (e != 0) return fail(e, pairErrorAt, first, chunkLen);
          }
          // An empty PARAMS ends the stream; GET_VALUES(_RESULT) records stand alone (spec 3.3).
          const open = hasCarry(key);
          if ((clen == 0 || t != RecordType.PARAMS) && open) return fail(Err.NV_TRUNCATED, hdrAt, first, chunkLen);
          // a pair runs on into the stream's next record (legal, but php-fpm rejects it): tools report it
          if (open) setEventWord(first, 3, plen | PAIR_OPEN);
        } else if (needsBytes) {
          emitFixed(t, typeId, INPUT + (p - win));
        }
        p += clen;
        phase = Phase.PADDING;
        rem = plen;
      } else {
        emit(Ev.HEADER | typeId, clen, plen, p); // p: where the content starts in this chunk
        store<f64>(st + S_REC_AT, hdrAt);
        store<u32>(st + S_TYPE, t);
        store<u32>(st + S_ID, id);
        store<u32>(st + S_CLEN, clen);
        store<u32>(st + S_PLEN, plen);
        store<u32>(st + S_BODY_LEN, 0);
        phase = Phase.CONTENT;
        rem = clen;
      }
    } else if (phase == Phase.CONTENT) {
      // A record whose content runs across chunks: hand on this chunk's fragment.
      const t = load<u32>(st + S_TYPE);
      const id = load<u32>(st + S_ID);
      const typeId = (t << 8) | (id << 16);
      const avail = min(rem, chunkLen - p);
      const pairs = isPairType(t), fixed = isFixedType(t);
      if ((pairs || fixed) && p + avail > we && we < chunkLen) { wantLen = avail; break; }
      const first = emit(Ev.CONTENT | typeId, p, avail, 0);
      if (pairs) {
        const e = feedPairs(pairKey(t, id), typeId, p, avail, win, base);
        if (e != 0) return fail(e, pairErrorAt, first, chunkLen);
      } else if (fixed) {
        const got = load<u32>(st + S_BODY_LEN);
        memory.copy(st + S_BODY + got, INPUT + (p - win), avail);
        store<u32>(st + S_BODY_LEN, got + avail);
      }
      p += avail;
      rem -= avail;
      if (rem == 0) {
        const clen = load<u32>(st + S_CLEN), plen = load<u32>(st + S_PLEN);
        if (pairs && t != RecordType.PARAMS && hasCarry(pairKey(t, id))) {
          return fail(Err.NV_TRUNCATED, load<f64>(st + S_REC_AT), first, chunkLen);
        }
        emit(Ev.RECORD_END | typeId, clen, plen, pairs && hasCarry(pairKey(t, id)) ? PAIR_OPEN : 0);
        if (fixed) emitFixed(t, typeId, st + S_BODY);
        phase = Phase.PADDING;
        rem = plen;
      }
    } else {
      const skip = min(rem, chunkLen - p);
      p += skip;
      rem -= skip;
      if (rem == 0) phase = Phase.HEADER;
    }
  }
  store<u32>(st + S_PHASE, phase);
  store<u32>(st + S_REM, rem);
  return p;
}

/** End of stream: the error a truncated stream ends with, or 0. */
export function finish(): u32 {
  const st = STATE;
  const dead = load<u32>(st + S_ERROR);
  if (dead != 0) return dead;
  const phase = load<u32>(st + S_PHASE);
  if (phase == Phase.HEADER && load<u32>(st + S_HDR_LEN) > 0) return Err.TRUNCATED_HEADER;
  if (phase == Phase.CONTENT) return Err.TRUNCATED_CONTENT;
  if (phase == Phase.PADDING && load<u32>(st + S_REM) > 0) return Err.TRUNCATED_PADDING;
  // A pair left partial by a PARAMS stream that never ended is the protocol layer's concern (the
  // request never got its params, or the records were for an inactive id and are to be ignored).
  return 0;
}

/** decodePairs(): the pairs of one standalone body, fed in windows; pairsEnd() says if it ended inside a pair. */
export function pairs(win: u32, winLen: u32): u32 {
  eventCount = 0;
  releaseDone();
  const e = feedPairs(0, 0, win, winLen, win, 0);
  if (e != 0) store<f64>(STATE + S_ERR_AT, pairErrorAt);
  return e;
}
export function pairsEnd(): u32 {
  return hasCarry(0) ? Err.NV_TRUNCATED : 0;
}
