// Linear-memory layout shared by the decoder and the encoder. The TypeScript side reads the same
// addresses through the exported getters in index.ts; nothing here is allocated per call.
//
//   STATE   one decoder's resumable state (swapped in and out by the TypeScript Decoder, so that one
//           instance per realm serves every connection)
//   EVENTS  the event table written by decode(): EVENT_WORDS u32 words per event
//   INPUT   the window of the caller's chunk that wasm has to read (headers, pairs, fixed bodies)
//   CARRIES the table of partial name-value pairs waiting for their next record, one row per stream
//   ARENA   the bytes of those partial pairs, packed in table order; grows at the top of memory
//   scratch above the arena: the encoder's staging and output area, valid for one call only

export const STATE_SIZE: u32 = 128;
export const EVENT_WORDS: u32 = 4;
// The largest window the TypeScript side may copy in: a whole record content (65535) plus its header.
export const INPUT_CAP: u32 = 65536 + 64;
// A window of INPUT_CAP bytes yields at most one event per two bytes (empty pairs), plus the few
// events that need no window bytes at all (content fragments, record ends): the table cannot overflow.
export const EVENT_CAP: u32 = INPUT_CAP / 2 + 64;
export const CARRY_ROW: u32 = 24; // key, arena offset, length, event index, stream offset of the pair (f64)
// Streams that may hold a partial pair at once, and room for the rows of pairs completed in one call.
export const MAX_PARTIAL_PAIRS: u32 = 256;
export const CARRY_ROWS: u32 = MAX_PARTIAL_PAIRS + INPUT_CAP / 8;

// STATE fields (byte offsets inside STATE)
export const S_PHASE: u32 = 0;      // Phase
export const S_HDR_LEN: u32 = 4;    // header bytes gathered across chunk boundaries (0..7)
export const S_HDR: u32 = 8;        // 8 bytes
export const S_TYPE: u32 = 16;
export const S_ID: u32 = 20;
export const S_CLEN: u32 = 24;
export const S_PLEN: u32 = 28;
export const S_REM: u32 = 32;       // content or padding bytes still to come
export const S_BODY_LEN: u32 = 36;  // fixed-body bytes gathered (BEGIN / END / UNKNOWN_TYPE)
export const S_BODY: u32 = 40;      // 8 bytes
export const S_CARRIES: u32 = 48;   // rows in use in CARRIES
export const S_ARENA_USED: u32 = 52;
export const S_ERROR: u32 = 56;     // sticky error code, 0 while healthy
export const S_PAIR_LIMIT: u32 = 60;// longest name + value accepted
export const S_ERR_AT: u32 = 72;    // f64: stream offset of the sticky error
export const S_DONE: u32 = 68;      // carry rows completed in the last call (see pairs.ts)
export const S_REC_AT: u32 = 80;    // f64: stream offset of the header of the record in CONTENT phase
export const S_EVENTS: u32 = 88;    // events written by the last call (read by TypeScript with the state)
export const S_WANT: u32 = 92;      // bytes the next window needs at least

export namespace Phase {
  export const HEADER: u32 = 0;
  export const CONTENT: u32 = 1;
  export const PADDING: u32 = 2;
}

// Region addresses, fixed by init().
export let STATE: usize = 0;
export let EVENTS: usize = 0;
export let INPUT: usize = 0;
export let CARRIES: usize = 0;
export let ARENA: usize = 0;

/** Lays the regions out above the static data and grows memory to hold them. */
export function layout(): void {
  if (STATE != 0) return;
  STATE = (__heap_base + 15) & ~15;
  EVENTS = STATE + STATE_SIZE;
  INPUT = EVENTS + EVENT_CAP * EVENT_WORDS * 4;
  CARRIES = INPUT + INPUT_CAP;
  ARENA = CARRIES + CARRY_ROWS * CARRY_ROW;
  ensureMemory(ARENA + 65536);
}

/** Makes sure addresses below `end` exist, growing memory by whole pages. Returns false if it cannot. */
export function ensureMemory(end: usize): bool {
  const have = <usize>memory.size() << 16;
  if (end <= have) return true;
  const pages = <i32>((end - have + 0xffff) >> 16);
  return memory.grow(pages) >= 0;
}
