// The wasm codec instance: compiled and instantiated synchronously, once per realm, from the embedded
// bytes. Every Decoder and Encoder of the realm shares it; decoders swap their state in and out
// (see Decoder), so a thousand connections cost a thousand small snapshots, not a thousand memories.

import { WASM_BASE64 } from './wasm.generated.js';

/** The exports of build/codec.wasm (assembly/index.ts). Addresses are byte offsets in `memory`. */
export interface CodecExports {
  memory: WebAssembly.Memory;
  init(): void;
  ensure(end: number): number;
  reset(pairLimit: number): void;
  statePtr(): number;
  stateSize(): number;
  eventsPtr(): number;
  eventCap(): number;
  inputPtr(): number;
  inputCap(): number;
  carriesPtr(): number;
  carryRowSize(): number;
  arenaPtr(): number;
  events(): number;
  streamCut(): number;
  decode(chunkLen: number, win: number, winLen: number, base: number): number;
  skipContent(n: number): number;
  finish(): number;
  pairs(win: number, winLen: number): number;
  pairsEnd(): number;
  recordHeader(out: number, type: number, id: number, clen: number): number;
  paddedHeader(out: number, type: number, id: number, clen: number, plen: number): void;
  frameStream(out: number, type: number, id: number, len: number, terminate: number): number;
  beginBody(out: number, role: number, flags: number): void;
  endBody(out: number, appStatus: number, protocolStatus: number): void;
  unknownTypeBody(out: number, type: number): void;
  pairsBody(out: number, lens: number, count: number, bytes: number, long: number): number;
  packPairs(out: number, type: number, id: number, lens: number, count: number, bytes: number, terminate: number): number;
}

/** Byte offsets of STATE fields (assembly/layout.ts). */
export const StateField = { CARRIES: 48, ARENA_USED: 52, ERROR: 56, PAIR_LIMIT: 60, DONE: 68, ERR_AT_F64: 72, EVENTS: 88, WANT: 92 } as const;

export interface StateOwner {
  /** Copies this owner's state out of wasm memory before another owner takes the instance. */
  saveState(): void;
}

/** A decoder reading its events in place in wasm memory (see Decoder.dispatch). */
export interface EventReader {
  /** Copies the events still to be read out of wasm memory, which is about to change. */
  rescue(): void;
}

/** One realm's codec: the instance, its fixed addresses and typed views refreshed after memory growth. */
export class Codec {
  readonly x: CodecExports;
  readonly STATE: number;
  readonly STATE_SIZE: number;
  readonly EVENTS: number;
  readonly EVENT_CAP: number;
  readonly INPUT: number;
  readonly INPUT_CAP: number;
  readonly CARRIES: number;
  readonly CARRY_ROW: number;
  readonly ARENA: number;
  readonly STREAM_CUT: number;
  /** The decoder whose state is in wasm memory now. */
  owner: StateOwner | null = null;
  /** The decoder dispatching events in place, if any: it must copy them before wasm writes again. */
  reader: EventReader | null = null;
  private buffer: ArrayBuffer | null = null;
  private _u8: Uint8Array = new Uint8Array(0);
  private _u32: Uint32Array = new Uint32Array(0);
  private _f64: Float64Array = new Float64Array(0);

  constructor(bytes: Uint8Array<ArrayBuffer>) {
    const module = new WebAssembly.Module(bytes);
    this.x = new WebAssembly.Instance(module, {}).exports as unknown as CodecExports;
    this.x.init();
    this.STATE = this.x.statePtr();
    this.STATE_SIZE = this.x.stateSize();
    this.EVENTS = this.x.eventsPtr();
    this.EVENT_CAP = this.x.eventCap();
    this.INPUT = this.x.inputPtr();
    this.INPUT_CAP = this.x.inputCap();
    this.CARRIES = this.x.carriesPtr();
    this.CARRY_ROW = this.x.carryRowSize();
    this.ARENA = this.x.arenaPtr();
    this.STREAM_CUT = this.x.streamCut();
  }

  /** A byte view of wasm memory, valid until the next call that may grow it. */
  get u8(): Uint8Array {
    if (this.x.memory.buffer !== this.buffer) this.refresh();
    return this._u8;
  }
  get u32(): Uint32Array {
    if (this.x.memory.buffer !== this.buffer) this.refresh();
    return this._u32;
  }
  /** The stream offset of the decoder error just reported (STATE's f64 field). */
  errorOffset(): number {
    if (this.x.memory.buffer !== this.buffer) this.refresh();
    return this._f64[(this.STATE + StateField.ERR_AT_F64) >>> 3]!;
  }
  private refresh(): void {
    this.buffer = this.x.memory.buffer as ArrayBuffer;
    this._u8 = new Uint8Array(this.buffer);
    this._u32 = new Uint32Array(this.buffer);
    this._f64 = new Float64Array(this.buffer);
  }

  /** Grows memory so that [0, end) exists. */
  ensure(end: number): void {
    if (end > this.x.memory.buffer.byteLength) this.reader?.rescue();
    if (!this.x.ensure(end)) throw new RangeError(`fcgi-wasm: cannot grow wasm memory to ${end} bytes`);
  }

  /** Before a call that rewrites the event table or may grow memory (decode, pairs). */
  beforeDecode(): void {
    this.reader?.rescue();
  }

  /**
   * Scratch space for one encoder call: `bytes` bytes starting at the first 16-aligned address at or
   * above `from` (default: the top of the decoder arena, which must be kept).
   */
  scratch(bytes: number, from = 0): number {
    const used = this.u32[(this.STATE + StateField.ARENA_USED) >>> 2]!;
    const at = (Math.max(from, this.ARENA + used) + 15) & ~15;
    this.ensure(at + bytes);
    return at;
  }

  /** `owner` will never decode again: it leaves the instance without its state being saved. */
  disown(owner: StateOwner): void {
    if (this.owner === owner) this.owner = null;
  }

  /** Gives the decoder state to `next`, saving the previous owner's first. */
  acquire(next: StateOwner | null): boolean {
    if (this.owner === next) return false;
    this.owner?.saveState();
    this.owner = next;
    return true;
  }
}

function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

let realmCodec: Codec | null = null;

/** This realm's codec, instantiated on first use. */
export function codec(): Codec {
  return (realmCodec ??= new Codec(base64ToBytes(WASM_BASE64)));
}
