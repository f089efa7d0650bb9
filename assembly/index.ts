// The exports of build/codec.wasm. src/codec/wasm.ts is the only reader of this interface.

import { layout, ensureMemory, STATE, EVENTS, INPUT, CARRIES, ARENA, STATE_SIZE, INPUT_CAP, EVENT_CAP, CARRY_ROW, S_PAIR_LIMIT } from './layout';
import { eventCount } from './events';
import { STREAM_CUT } from './encoder';

export { decode, skipContent, finish, pairs, pairsEnd } from './decoder';
export { recordHeader, paddedHeader, frameStream, beginBody, endBody, unknownTypeBody, packPairs, pairsBody } from './encoder';

export function init(): void { layout(); }
/** Grows memory so that addresses below `end` exist; false if the engine refused. */
export function ensure(end: usize): bool { return ensureMemory(end); }

/** Zeroes the current decoder state and sets its pair limit. */
export function reset(pairLimit: u32): void {
  memory.fill(STATE, 0, STATE_SIZE);
  store<u32>(STATE + S_PAIR_LIMIT, pairLimit);
}

export function statePtr(): usize { return STATE; }
export function stateSize(): u32 { return STATE_SIZE; }
export function eventsPtr(): usize { return EVENTS; }
export function eventCap(): u32 { return EVENT_CAP; }
export function inputPtr(): usize { return INPUT; }
export function inputCap(): u32 { return INPUT_CAP; }
export function carriesPtr(): usize { return CARRIES; }
export function carryRowSize(): u32 { return CARRY_ROW; }
export function arenaPtr(): usize { return ARENA; }
export function events(): u32 { return eventCount; }
export function streamCut(): u32 { return STREAM_CUT; }
