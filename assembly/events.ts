// The event table: EVENT_WORDS u32 words per event, copied out by src/codec/decoder.ts after each call.
// Word 0 is kind | type << 8 | requestId << 16; the other words depend on the kind (contract.ts, Ev).

import { EVENTS } from './heap';
import { Layout } from './contract';

export let eventCount: u32 = 0;

/** Appends an event; returns its index. */
@inline export function emit(w0: u32, a: u32, b: u32, c: u32): u32 {
  const i = eventCount;
  const at = EVENTS + <usize>i * (Layout.EVENT_WORDS << 2);
  store<u32>(at, w0);
  store<u32>(at, a, 4);
  store<u32>(at, b, 8);
  store<u32>(at, c, 12);
  eventCount = i + 1;
  return i;
}
