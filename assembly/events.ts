// The event table: EVENT_WORDS u32 words per event, read by src/codec/decoder.ts with one Uint32Array.
// Word 0 is kind | type << 8 | requestId << 16; the other words depend on the kind (see constants.ts).

import { EVENTS, EVENT_WORDS } from './layout';

export let eventCount: u32 = 0;

/** Appends an event; returns its index. */
@inline export function emit(w0: u32, a: u32, b: u32, c: u32): u32 {
  const i = eventCount;
  const at = EVENTS + (<usize>i) * (EVENT_WORDS << 2);
  store<u32>(at, w0);
  store<u32>(at, a, 4);
  store<u32>(at, b, 8);
  store<u32>(at, c, 12);
  eventCount = i + 1;
  return i;
}

/** Moves the address in event i's first data word down by `by` bytes (its bytes were compacted). */
export function moveEvent(i: u32, by: u32): void {
  const at = EVENTS + (<usize>i) * (EVENT_WORDS << 2) + 4;
  store<u32>(at, load<u32>(at) - by);
}

/** Overwrites data word `word` (1..3) of event i. */
export function setEventWord(i: u32, word: u32, value: u32): void {
  store<u32>(EVENTS + (<usize>i) * (EVENT_WORDS << 2) + (<usize>word << 2), value);
}
