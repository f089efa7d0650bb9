// The wasm codec instance: compiled and instantiated synchronously, once per realm, from the embedded
// bytes. Every Decoder and Encoder of the realm shares it; each decoder owns a state slot in its
// memory from its first push to its end (assembly/heap.ts), so switching decoders copies nothing.

import { WASM_BASE64 } from './wasm.generated.js';
import { CONTRACT_ID, Carry, Ev, Globals, Heap } from './contract.generated.js';

/** The exports of build/codec.wasm (assembly/index.ts). Addresses are byte offsets in `memory`. */
export interface CodecExports {
  memory: WebAssembly.Memory;
  init(): void;
  ensure(end: number): number;
  newDecoder(pairLimit: number, budget: number): number;
  freeDecoder(state: number): void;
  releaseCarried(state: number): void;
  contractId(): number;
  globalsPtr(): number;
  eventsPtr(): number;
  inputPtr(): number;
  streamCut(): number;
  decode(state: number, chunkLen: number, win: number, winLen: number, base: number): number;
  finish(state: number): number;
  pairs(state: number, win: number, winLen: number): number;
  pairsEnd(state: number): number;
  recordHeader(out: number, type: number, id: number, clen: number): number;
  paddedHeader(out: number, type: number, id: number, clen: number, plen: number): void;
  frameStream(out: number, type: number, id: number, len: number, terminate: number): number;
  beginBody(out: number, role: number, flags: number): void;
  endBody(out: number, appStatus: number, protocolStatus: number): void;
  unknownTypeBody(out: number, type: number): void;
  pairsBody(out: number, lens: number, count: number, bytes: number, long: number): number;
  packPairs(out: number, type: number, id: number, lens: number, count: number, bytes: number, terminate: number): number;
}

/** One realm's codec: the instance, its fixed addresses and typed views refreshed after memory growth. */
export class Codec {
  readonly x: CodecExports;
  readonly GLOBALS: number;
  readonly EVENTS: number;
  readonly INPUT: number;
  readonly STREAM_CUT: number;
  private _u8: Uint8Array = new Uint8Array(0);
  private _u32: Uint32Array = new Uint32Array(0);
  private _f64: Float64Array = new Float64Array(0);

  constructor(bytes: Uint8Array<ArrayBuffer>) {
    const module = new WebAssembly.Module(bytes);
    this.x = new WebAssembly.Instance(module, {}).exports as unknown as CodecExports;
    if (this.x.contractId() >>> 0 !== CONTRACT_ID) {
      throw new Error(`fcgi-wasm: the embedded wasm was built from another assembly/contract.ts (${this.x.contractId() >>> 0} != ${CONTRACT_ID}): run \`npm run build\``);
    }
    this.x.init();
    this.GLOBALS = this.x.globalsPtr();
    this.EVENTS = this.x.eventsPtr();
    this.INPUT = this.x.inputPtr();
    this.STREAM_CUT = this.x.streamCut();
  }

  // Views of wasm memory, remade after it grew: growing detaches the old buffer, which empties every
  // view of it (a length test is cheaper than asking the Memory for its buffer).
  /** A byte view of wasm memory, valid until the next call that may grow it. */
  get u8(): Uint8Array {
    if (this._u8.length === 0) this.refresh();
    return this._u8;
  }
  get u32(): Uint32Array {
    if (this._u32.length === 0) this.refresh();
    return this._u32;
  }
  /** The f64 at `address` (8-aligned): a state's stream offsets. */
  f64(address: number): number {
    if (this._f64.length === 0) this.refresh();
    return this._f64[address >>> 3]!;
  }
  /** The u32 at `GLOBALS + field` (contract: Globals). */
  global(field: number): number {
    return this.u32[(this.GLOBALS + field) >>> 2]!;
  }
  private refresh(): void {
    const buffer = this.x.memory.buffer as ArrayBuffer;
    this._u8 = new Uint8Array(buffer);
    this._u32 = new Uint32Array(buffer);
    this._f64 = new Float64Array(buffer);
  }

  /** Grows memory so that [0, end) exists. */
  ensure(end: number): void {
    if (!this.x.ensure(end)) throw new RangeError(`fcgi-wasm: cannot grow wasm memory to ${end} bytes`);
  }

  /** Bytes of the heap in use: the slots of live decoders and partial pairs, and their pages. */
  heapInUse(): number {
    return this.global(Globals.SLOTS_USED) * Heap.SLOT + this.global(Globals.PAGES_USED) * Heap.PAGE;
  }

  /**
   * Copies the bytes of each pair completed from carried bytes (name and value, without the lengths)
   * out of their pages (assembly/pairs.ts), and points its event in `ev` (a copy of the event table) at
   * the copy: ev[i + 1] becomes an index into the result.
   */
  copyCarried(ev: Uint32Array, words: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const u32 = this.u32;
    const u8 = this.u8;
    for (let i = 0; i < words; i += 4) {
      if ((ev[i]! & 0xff) !== Ev.PAIR_CARRIED) continue;
      const carry = ev[i + 1]!;
      const size = ev[i + 2]! + ev[i + 3]!;
      const len = u32[(carry + Carry.LEN) >>> 2]!;
      const head = len - size; // the two lengths
      let page = u32[(carry + Carry.FIRST) >>> 2]!;
      let bytes: Uint8Array;
      if (len <= Heap.PAGE_DATA) {
        bytes = u8.slice(page + 4 + head, page + 4 + len); // one page: one copy
      } else {
        bytes = new Uint8Array(size);
        for (let at = 0; page !== 0; at += Heap.PAGE_DATA, page = u32[page >>> 2]!) {
          const n = Math.min(Heap.PAGE_DATA, len - at);
          const from = Math.max(head - at, 0);
          if (from < n) bytes.set(u8.subarray(page + 4 + from, page + 4 + n), at + from - head);
        }
      }
      ev[i + 1] = out.length;
      out.push(bytes);
    }
    return out;
  }

  /**
   * Scratch space for one encoder call: `bytes` bytes starting at the first 16-aligned address at or
   * above `from` (default: the top of the heap, above every live block).
   */
  scratch(bytes: number, from = 0): number {
    const at = (Math.max(from, this.global(Globals.HEAP_TOP)) + 15) & ~15;
    this.ensure(at + bytes);
    return at;
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
