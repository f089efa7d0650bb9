// The exports of build/codec.wasm. src/codec/wasm.ts is the only reader of this interface.

import { State } from './contract';
import { CONTRACT_ID } from './contract-id.generated';
import { layout, ensureMemory, GLOBALS, EVENTS, INPUT, takeSlot, giveSlot } from './heap';
import { releaseAll, releaseDone } from './pairs';
import { STREAM_CUT } from './encoder';

export { decode, finish, pairs, pairsEnd } from './decoder';
export { recordHeader, paddedHeader, frameStream, beginBody, endBody, unknownTypeBody, packPairs, pairsBody } from './encoder';

export function init(): void { layout(); }
/** Grows memory so that addresses below `end` exist; false if the engine refused. */
export function ensure(end: usize): bool { return ensureMemory(end); }

/** A new decoder's state (its slot), or 0 when memory cannot grow. */
export function newDecoder(pairLimit: u32, budget: u32): usize {
  const st = takeSlot();
  if (st == 0) return 0;
  store<u32>(st + State.PAIR_LIMIT, pairLimit);
  store<u32>(st + State.BUDGET, budget);
  return st;
}

/** Gives back a decoder's state and every partial pair it held. */
export function freeDecoder(st: usize): void {
  releaseAll(st);
  giveSlot(st);
}

/** Frees the carries whose pairs the last call completed, once the TypeScript side copied them out. */
export function releaseCarried(st: usize): void { releaseDone(st); }

/** The build of contract.ts this module was compiled from (the TypeScript side checks it). */
export function contractId(): u32 { return CONTRACT_ID; }
export function globalsPtr(): usize { return GLOBALS; }
export function eventsPtr(): usize { return EVENTS; }
export function inputPtr(): usize { return INPUT; }
export function streamCut(): u32 { return STREAM_CUT; }
