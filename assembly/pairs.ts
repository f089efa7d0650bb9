// Name-value pairs (FastCGI 1.0, section 3.4): lengths of 1 byte (high bit clear) or 4 bytes (high bit
// set, 31 bits), then the name and value bytes. A pair may straddle the records of one stream (PARAMS);
// its bytes so far wait in a "carry" keyed by (type, request id) until the rest arrives. A carry only ever
// holds bytes that have arrived and never more than the pair limit: nothing is sized by a declared length.

import { Ev, Err } from './constants';
import { STATE, INPUT, CARRIES, ARENA, CARRY_ROW, CARRY_ROWS, S_CARRIES, S_ARENA_USED, S_PAIR_LIMIT, S_DONE, MAX_PARTIAL_PAIRS, ensureMemory } from './layout';
import { emit, moveEvent } from './events';

// The lengths of the last pair measured by measure().
let nameLen: u32 = 0;
let valueLen: u32 = 0;
let headLen: u32 = 0;

/**
 * Measures the pair starting at `ptr` with `avail` bytes present. Returns the bytes the pair occupies
 * when its two lengths are present (setting nameLen, valueLen, headLen), or, with the top bit set, the
 * number of bytes needed before the lengths can be known.
 */
function measure(ptr: usize, avail: u32): u64 {
  if (avail < 1) return (<u64>1) | NEED;
  let head: u32 = 1;
  let b = <u32>load<u8>(ptr);
  let n = b;
  if (b & 0x80) {
    if (avail < 4) return (<u64>4) | NEED;
    n = ((b & 0x7f) << 24) | (<u32>load<u8>(ptr + 1) << 16) | (<u32>load<u8>(ptr + 2) << 8) | <u32>load<u8>(ptr + 3);
    head = 4;
  }
  if (avail < head + 1) return (<u64>(head + 1)) | NEED;
  b = <u32>load<u8>(ptr + head);
  let v = b;
  if (b & 0x80) {
    if (avail < head + 4) return (<u64>(head + 4)) | NEED;
    v = ((b & 0x7f) << 24) | (<u32>load<u8>(ptr + head + 1) << 16) | (<u32>load<u8>(ptr + head + 2) << 8) | <u32>load<u8>(ptr + head + 3);
    head += 4;
  } else {
    head += 1;
  }
  nameLen = n; valueLen = v; headLen = head;
  return <u64>head + <u64>n + <u64>v;
}
const NEED: u64 = 1 << 63;

@inline function row(i: u32): usize { return CARRIES + <usize>i * CARRY_ROW; }
@inline function rowCount(): u32 { return load<u32>(STATE + S_CARRIES); }
@inline function arenaUsed(): u32 { return load<u32>(STATE + S_ARENA_USED); }

function findCarry(key: u32): i32 {
  const n = rowCount();
  for (let i: u32 = 0; i < n; i++) if (load<u32>(row(i)) == key) return <i32>i;
  return -1;
}

// A row is (key, arena offset, length, event index, stream offset where the pair began). A pair completed from a carry is handed to the
// TypeScript side as an address in the arena, so its row stays, keyed DONE, until the next decode call
// (releaseDone); if the arena is compacted meanwhile, the event's address is moved with the bytes.
const DONE: u32 = 0xffffffff;

/** Removes row i and its bytes, keeping the arena packed in row order. */
function dropCarry(i: u32): void {
  const n = rowCount();
  const off = load<u32>(row(i), 4), len = load<u32>(row(i), 8);
  const used = arenaUsed();
  memory.copy(ARENA + off, ARENA + off + len, used - off - len);
  for (let j = i + 1; j < n; j++) {
    const key = load<u32>(row(j)), ev = load<u32>(row(j), 12);
    store<u32>(row(j - 1), key);
    store<u32>(row(j - 1), load<u32>(row(j), 4) - len, 4);
    store<u32>(row(j - 1), load<u32>(row(j), 8), 8);
    store<u32>(row(j - 1), ev, 12);
    store<f64>(row(j - 1), load<f64>(row(j), 16), 16);
    if (key == DONE) moveEvent(ev, len);
  }
  store<u32>(STATE + S_CARRIES, n - 1);
  store<u32>(STATE + S_ARENA_USED, used - len);
}

/** Drops the rows of pairs handed out by the previous call: the TypeScript side has read them. */
export function releaseDone(): void {
  if (load<u32>(STATE + S_DONE) == 0) return;
  for (let i = <i32>rowCount() - 1; i >= 0; i--) if (load<u32>(row(<u32>i)) == DONE) dropCarry(<u32>i);
  store<u32>(STATE + S_DONE, 0);
}

/** Appends n bytes at src to row i (moved to the end of the arena first). Returns the row's new index, or -1 if memory ran out. */
function appendCarry(i: u32, src: usize, n: u32): i32 {
  const last = rowCount() - 1;
  if (i != last) {
    // Rare: two streams each hold a partial pair. Move row i's bytes past the others.
    const key = load<u32>(row(i)), off = load<u32>(row(i), 4), len = load<u32>(row(i), 8);
    const began = load<f64>(row(i), 16);
    const used = arenaUsed();
    if (!ensureMemory(ARENA + used + len + n)) return -1;
    memory.copy(ARENA + used, ARENA + off, len);   // stash past the end
    dropCarry(i);                                  // close the hole: the arena ends at used - len
    memory.copy(ARENA + used - len, ARENA + used, len);
    const at = rowCount();
    store<u32>(row(at), key);
    store<u32>(row(at), used - len, 4);
    store<u32>(row(at), len, 8);
    store<u32>(row(at), 0, 12);
    store<f64>(row(at), began, 16);
    store<u32>(STATE + S_CARRIES, at + 1);
    store<u32>(STATE + S_ARENA_USED, used);
    i = at;
  }
  const used = arenaUsed();
  if (!ensureMemory(ARENA + used + n)) return -1;
  memory.copy(ARENA + used, src, n);
  store<u32>(row(i), load<u32>(row(i), 8) + n, 8);
  store<u32>(STATE + S_ARENA_USED, used + n);
  return <i32>i;
}

/** Starts a carry for key with n bytes at src, the pair beginning at stream offset `began`. Returns an error code or 0. */
function newCarry(key: u32, src: usize, n: u32, began: f64): u32 {
  const at = rowCount();
  if (at - load<u32>(STATE + S_DONE) >= MAX_PARTIAL_PAIRS || at >= CARRY_ROWS) return Err.TOO_MANY_PARTIAL_PAIRS;
  store<u32>(row(at), key);
  store<u32>(row(at), arenaUsed(), 4);
  store<u32>(row(at), 0, 8);
  store<u32>(row(at), 0, 12);
  store<f64>(row(at), began, 16);
  store<u32>(STATE + S_CARRIES, at + 1);
  return appendCarry(at, src, n) < 0 ? Err.OUT_OF_MEMORY : 0;
}

/** True when the stream `key` holds the first bytes of a pair. */
export function hasCarry(key: u32): bool { return findCarry(key) >= 0; }

/** Forgets a partial pair (the stream was restarted by a new BEGIN_REQUEST). */
export function discardCarry(key: u32): void {
  const i = findCarry(key);
  if (i >= 0) dropCarry(<u32>i);
}

/** Stream offset of the pair at fault when feedPairs returns an error. */
export let pairErrorAt: f64 = 0;

/**
 * Decodes the pairs in bytes [at, at + n) of the caller's chunk (which lie in the window starting at
 * chunk offset `win`; the chunk starts at stream offset `base`), continuing a carried pair first and
 * carrying a trailing partial one. Emits PAIR / PAIR_CARRIED events. Returns an error code or 0.
 */
export function feedPairs(key: u32, typeId: u32, at: u32, n: u32, win: u32, base: f64): u32 {
  const limit = <u64>load<u32>(STATE + S_PAIR_LIMIT);
  let q = at;
  const end = at + n;
  let ci = findCarry(key);
  while (ci >= 0) {
    const off = load<u32>(row(ci), 4);
    const len = load<u32>(row(ci), 8);
    const m = measure(ARENA + off, len);
    if ((m & NEED) == 0 && <u64>nameLen + <u64>valueLen > limit) { pairErrorAt = load<f64>(row(ci), 16); return Err.PAIR_TOO_LONG; }
    const want = <u32>(m & ~NEED);
    if ((m & NEED) == 0 && len == want) {
      const ev = emit(Ev.PAIR_CARRIED | typeId, <u32>(ARENA + off + headLen), nameLen, valueLen);
      store<u32>(row(ci), DONE);
      store<u32>(row(ci), ev, 12);
      store<u32>(STATE + S_DONE, load<u32>(STATE + S_DONE) + 1);
      break;
    }
    if (q == end) return 0;
    const take = min(want - len, end - q);
    ci = appendCarry(<u32>ci, INPUT + (q - win), take);
    if (ci < 0) return Err.OUT_OF_MEMORY;
    q += take;
  }
  while (q < end) {
    const m = measure(INPUT + (q - win), end - q);
    if ((m & NEED) == 0) {
      if (<u64>nameLen + <u64>valueLen > limit) { pairErrorAt = base + <f64>q; return Err.PAIR_TOO_LONG; }
      if (m <= <u64>(end - q)) {
        emit(Ev.PAIR | typeId, q + headLen, nameLen, valueLen);
        q += <u32>m;
        continue;
      }
    }
    const e = newCarry(key, INPUT + (q - win), end - q, base + <f64>q);
    if (e != 0) pairErrorAt = base + <f64>q;
    return e;
  }
  return 0;
}
