// Linear memory: three shared regions laid out once, then a heap of fixed-size blocks.
//
//   GLOBALS  what the last call returned (event count, wanted window) and the heap's counters
//   EVENTS   the event table written by decode(): EVENT_WORDS u32 words per event, valid until the next call
//   INPUT    the window of the caller's chunk that wasm has to read (headers, pairs, fixed bodies)
//   heap     slots (a decoder's state, a partial pair's record) and pages (a partial pair's bytes), taken
//            from free lists or from the top; above the top, the encoder's scratch, valid for one call
//
// Every block of a kind has one size, so a freed block serves the next taker as it is: memory grows only
// with the blocks in use at once (llhttp's one parser per pointer, with nothing moved when others come
// and go), never with how many came and went.

import { Heap, Globals, Layout } from './contract';

export let GLOBALS: usize = 0;
export let EVENTS: usize = 0;
export let INPUT: usize = 0;

/** Lays the regions out above the static data and grows memory to hold them. */
export function layout(): void {
  if (GLOBALS != 0) return;
  GLOBALS = (__heap_base + 15) & ~15;
  EVENTS = GLOBALS + Layout.GLOBALS_SIZE;
  INPUT = EVENTS + Layout.EVENT_CAP * Layout.EVENT_WORDS * 4;
  const top = (INPUT + Layout.INPUT_CAP + 15) & ~15;
  ensureMemory(top);
  store<u32>(GLOBALS + Globals.HEAP_TOP, <u32>top);
}

/** Makes sure addresses below `end` exist, growing memory by whole pages. Returns false if it cannot. */
export function ensureMemory(end: usize): bool {
  const have = <usize>memory.size() << 16;
  if (end <= have) return true;
  const pages = <i32>((end - have + 0xffff) >> 16);
  return memory.grow(pages) >= 0;
}

/** `n` bytes from the top of the heap, or 0 when memory cannot grow. */
function fromTop(n: u32): usize {
  const at = <usize>load<u32>(GLOBALS + Globals.HEAP_TOP);
  if (!ensureMemory(at + n)) return 0;
  store<u32>(GLOBALS + Globals.HEAP_TOP, <u32>(at + n));
  return at;
}

@inline function count(field: u32, by: i32): void {
  store<u32>(GLOBALS + field, load<u32>(GLOBALS + field) + by);
}

/** A block of `size` bytes from the free list headed at Globals `free`, else from the top; 0 if memory cannot grow. */
function take(free: u32, used: u32, size: u32): usize {
  let p = <usize>load<u32>(GLOBALS + free);
  if (p != 0) store<u32>(GLOBALS + free, load<u32>(p));
  else if ((p = fromTop(size)) == 0) return 0;
  count(used, 1);
  return p;
}

/** Puts block p on the free list headed at Globals `free` (its first word links the list). */
function give(free: u32, used: u32, p: usize): void {
  store<u32>(p, load<u32>(GLOBALS + free));
  store<u32>(GLOBALS + free, <u32>p);
  count(used, -1);
}

/** A zeroed slot of Heap.SLOT bytes, or 0 when memory cannot grow. */
export function takeSlot(): usize {
  const p = take(Globals.FREE_SLOTS, Globals.SLOTS_USED, Heap.SLOT);
  if (p != 0) memory.fill(p, 0, Heap.SLOT);
  return p;
}
export function giveSlot(p: usize): void {
  give(Globals.FREE_SLOTS, Globals.SLOTS_USED, p);
}

/** A page (its link word zeroed), or 0 when memory cannot grow. */
export function takePage(): usize {
  const p = take(Globals.FREE_PAGES, Globals.PAGES_USED, Heap.PAGE);
  if (p != 0) store<u32>(p, 0);
  return p;
}
export function givePage(p: usize): void {
  give(Globals.FREE_PAGES, Globals.PAGES_USED, p);
}
