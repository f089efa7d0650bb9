// Name-value pairs (FastCGI 1.0, section 3.4): lengths of 1 byte (high bit clear) or 4 bytes (high bit
// set, 31 bits), then the name and value bytes. A pair may straddle the records of one PARAMS stream,
// and any pair may straddle two chunks: its bytes so far wait in a "carry" of its decoder, keyed by
// (type, request id), until the rest arrives. A carry is a slot plus a chain of pages filled in order:
// appending to one carry never moves another, and it holds only bytes that arrived, never more than
// the pair limit: nothing is sized by a declared length.

import { Ev, Err, State, Carry, Heap } from './contract';
import { INPUT, takeSlot, giveSlot, takePage, givePage } from './heap';
import { emit } from './events';

// The lengths of the last pair measured by measure().
let nameLen: u32 = 0;
let valueLen: u32 = 0;
let headLen: u32 = 0;
const NEED: u64 = 1 << 63;

/**
 * Measures the pair starting at `ptr` with `avail` bytes present. Returns the bytes the pair occupies
 * when its two lengths are present (setting nameLen, valueLen, headLen), or, with the top bit set, the
 * number of bytes needed before the lengths can be known (at most 8).
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

/** What a carry of `len` bytes occupies: its slot and its pages (README, the codec's limits). */
@inline function charge(len: u32): u32 {
  return Heap.SLOT + Heap.PAGE * ((len + Heap.PAGE_DATA - 1) / Heap.PAGE_DATA);
}

function findCarry(st: usize, key: u32): usize {
  let c = <usize>load<u32>(st + State.CARRIES);
  while (c != 0 && load<u32>(c + Carry.KEY) != key) c = <usize>load<u32>(c + Carry.NEXT);
  return c;
}

/** Takes carry c out of its decoder's list of partial pairs. */
function unlink(st: usize, c: usize): void {
  let at = st + State.CARRIES;
  while (<usize>load<u32>(at) != c) at = <usize>load<u32>(at) + Carry.NEXT;
  store<u32>(at, load<u32>(c + Carry.NEXT));
  store<u32>(st + State.HELD, load<u32>(st + State.HELD) - charge(load<u32>(c + Carry.LEN)));
}

/** Frees carry c (already unlinked) and its pages. */
function freeCarry(c: usize): void {
  let page = <usize>load<u32>(c + Carry.FIRST);
  while (page != 0) {
    const next = <usize>load<u32>(page);
    givePage(page);
    page = next;
  }
  giveSlot(c);
}

/** Appends n bytes at src to carry c, filling its last page before taking another. False if memory ran out. */
function append(st: usize, c: usize, src: usize, n: u32): bool {
  let len = load<u32>(c + Carry.LEN);
  if (len < 8) memory.copy(c + Carry.HEAD + len, src, min(8 - len, n));
  let last = <usize>load<u32>(c + Carry.LAST);
  let left = n;
  while (left > 0) {
    const used = len % Heap.PAGE_DATA; // 0: no page yet, or the last one is full
    if (used == 0) {
      const page = takePage();
      if (page == 0) return false;
      if (last == 0) store<u32>(c + Carry.FIRST, <u32>page);
      else store<u32>(last, <u32>page);
      store<u32>(c + Carry.LAST, <u32>page);
      last = page;
    }
    const take = min(left, Heap.PAGE_DATA - used);
    memory.copy(last + 4 + used, src, take);
    // counted page by page, so that HELD stays the sum of charge(LEN) if memory runs out midway
    store<u32>(st + State.HELD, load<u32>(st + State.HELD) - charge(len) + charge(len + take));
    len += take;
    store<u32>(c + Carry.LEN, len);
    src += take;
    left -= take;
  }
  return true;
}

/** Starts a carry for key with n bytes at src, the pair beginning at stream offset `began`. Returns an error code or 0. */
function newCarry(st: usize, key: u32, src: usize, n: u32, began: f64): u32 {
  const c = takeSlot();
  if (c == 0) return Err.OUT_OF_MEMORY;
  store<u32>(c + Carry.KEY, key);
  store<f64>(c + Carry.BEGAN, began);
  store<u32>(c + Carry.NEXT, load<u32>(st + State.CARRIES));
  store<u32>(st + State.CARRIES, <u32>c);
  store<u32>(st + State.HELD, load<u32>(st + State.HELD) + Heap.SLOT); // charge(0): the slot alone
  return append(st, c, src, n) ? 0 : Err.OUT_OF_MEMORY;
}

/** True when the stream `key` holds the first bytes of a pair. */
export function hasCarry(st: usize, key: u32): bool {
  return findCarry(st, key) != 0;
}

/** Forgets a partial pair (the stream was restarted by a new BEGIN_REQUEST). */
export function discardCarry(st: usize, key: u32): void {
  const c = findCarry(st, key);
  if (c == 0) return;
  unlink(st, c);
  freeCarry(c);
}

/** Frees the carries of a list linked by Carry.NEXT from the word at `head`, and empties it. */
function freeAll(head: usize): void {
  let c = <usize>load<u32>(head);
  while (c != 0) {
    const next = <usize>load<u32>(c + Carry.NEXT);
    freeCarry(c);
    c = next;
  }
  store<u32>(head, 0);
}

/** Frees the carries whose pairs were handed out (the TypeScript side copied them). */
export function releaseDone(st: usize): void {
  freeAll(st + State.DONE);
}

/** Frees every carry of a decoder that is going away. */
export function releaseAll(st: usize): void {
  freeAll(st + State.DONE);
  freeAll(st + State.CARRIES);
  store<u32>(st + State.HELD, 0);
}

/** Stream offset of the pair at fault when feedPairs returns an error. */
export let pairErrorAt: f64 = 0;
/** PAIR_CARRIED events written since the last call began. */
export let carriedCount: u32 = 0;

/**
 * Decodes the pairs in bytes [at, at + n) of the caller's chunk (which lie in the window starting at
 * chunk offset `win`; the chunk starts at stream offset `base`), continuing a carried pair first and
 * carrying a trailing partial one. Emits PAIR / PAIR_CARRIED events. Returns an error code or 0.
 */
export function feedPairs(st: usize, key: u32, typeId: u32, at: u32, n: u32, win: u32, base: f64): u32 {
  const limit = <u64>load<u32>(st + State.PAIR_LIMIT);
  let q = at;
  const end = at + n;
  const c = findCarry(st, key);
  if (c != 0) {
    for (;;) {
      const len = load<u32>(c + Carry.LEN);
      const m = measure(c + Carry.HEAD, min(len, 8));
      const known = (m & NEED) == 0;
      if (known && <u64>nameLen + <u64>valueLen > limit) {
        pairErrorAt = load<f64>(c + Carry.BEGAN);
        return Err.PAIR_TOO_LONG;
      }
      const want = <u32>(m & ~NEED);
      if (known && len == want) {
        // complete: handed to the TypeScript side by address, freed once it copied the pair (releaseDone)
        emit(Ev.PAIR_CARRIED | typeId, <u32>c, nameLen, valueLen);
        carriedCount++;
        unlink(st, c);
        store<u32>(c + Carry.NEXT, load<u32>(st + State.DONE));
        store<u32>(st + State.DONE, <u32>c);
        break;
      }
      if (q == end) return 0;
      const take = min(want - len, end - q);
      if (!append(st, c, INPUT + (q - win), take)) return Err.OUT_OF_MEMORY;
      q += take;
    }
  }
  while (q < end) {
    const m = measure(INPUT + (q - win), end - q);
    if ((m & NEED) == 0) {
      if (<u64>nameLen + <u64>valueLen > limit) {
        pairErrorAt = base + <f64>q;
        return Err.PAIR_TOO_LONG;
      }
      if (m <= <u64>(end - q)) {
        emit(Ev.PAIR | typeId, q + headLen, nameLen, valueLen);
        q += <u32>m;
        continue;
      }
    }
    const e = newCarry(st, key, INPUT + (q - win), end - q, base + <f64>q);
    if (e != 0) pairErrorAt = base + <f64>q;
    return e;
  }
  return 0;
}
