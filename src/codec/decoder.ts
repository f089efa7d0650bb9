// Decoder: FastCGI records from a byte stream pushed in chunks of any size, split at any byte.
//
// One wasm call per window of a chunk (usually one per chunk); wasm writes an event table that this
// class reads with one Uint32Array. A record lying inside one chunk is handed on as a view of that
// chunk (no copy); only a record split across chunks is reassembled. Pairs are decoded in wasm into
// offsets, and become strings only when read (PairList).

import { codec, StateField, type Codec, type StateOwner } from './wasm.js';
import { Ev, RecordType } from './constants.js';
import { decodeError, FastCGIProtocolError } from './errors.js';
import { PairList } from './pairs.js';

export interface DecoderHandler {
  /**
   * Every record, in stream order. `content` is a view of the pushed chunk when the record lay inside
   * one chunk, otherwise a fresh copy: either way it stays valid (the decoder never reuses a chunk, so
   * do not reuse the chunks you push while you hold their views).
   */
  record?(type: number, requestId: number, content: Uint8Array, paddingLength: number): void;
  /** The pairs completed by one PARAMS, GET_VALUES or GET_VALUES_RESULT record, right after its record(). */
  pairs?(type: number, requestId: number, pairs: PairList): void;
  /** A BEGIN_REQUEST body, right after its record(). */
  begin?(requestId: number, role: number, flags: number): void;
  /** An END_REQUEST body; appStatus is unsigned 32-bit. */
  end?(requestId: number, appStatus: number, protocolStatus: number): void;
  /** An UNKNOWN_TYPE body: the type the peer did not know. */
  unknownType?(type: number): void;
}

export interface DecoderOptions {
  /** Longest name plus value accepted in one pair; longer ones fail with PAIR_TOO_LONG. Default 1 MiB. */
  maxPairBytes?: number;
  /** Most PARAMS content bytes one request may send; more fails with PARAMS_TOO_LARGE. Default 1 MiB. */
  maxParamsBytes?: number;
}

export const DEFAULT_MAX_PARAMS_BYTES = 1 << 20;

// Window sizes: a window grows while wasm reads every byte (small records), and shrinks to the minimum
// when wasm skipped content it does not read (large STDIN/STDOUT payloads are never copied in).
const MIN_WINDOW = 512;
const MAX_WINDOW = 65536;

/** A record whose content runs across chunks, being reassembled. */
interface SplitRecord {
  type: number;
  requestId: number;
  content: Uint8Array;
  filled: number;
  pairs: PairList | null;
  headerAt: number;
}

/** Event-table copies, one per nesting depth: a handler may push into another decoder. */
const eventCopies: Uint32Array[] = [];
let depth = 0;

export class Decoder implements StateOwner {
  private readonly c: Codec = codec();
  private readonly handler: DecoderHandler;
  private readonly maxPairBytes: number;
  private readonly maxParamsBytes: number;
  /** This decoder's wasm state while another decoder holds the instance; null before the first push. */
  private snapshot: Uint8Array | null = null;
  /** Stream offset of the chunk being decoded. */
  private base = 0;
  private window = MIN_WINDOW;
  private want = 0;
  private split: SplitRecord | null = null;
  /** PARAMS bytes received per open request id. */
  private readonly paramsBytes = new Map<number, number>();
  private failure: FastCGIProtocolError | null = null;
  private ended = false;
  private busy = false;
  private readonly queue: Uint8Array[] = [];

  constructor(handler: DecoderHandler, options: DecoderOptions = {}) {
    this.handler = handler;
    this.maxPairBytes = limit(options.maxPairBytes, DEFAULT_MAX_PARAMS_BYTES, 'maxPairBytes');
    this.maxParamsBytes = limit(options.maxParamsBytes, DEFAULT_MAX_PARAMS_BYTES, 'maxParamsBytes');
  }

  /** Bytes decoded so far. */
  get offset(): number {
    return this.base;
  }
  /** The error that stopped this decoder, if any. */
  get error(): FastCGIProtocolError | null {
    return this.failure;
  }

  /**
   * Decodes a chunk, calling the handler for every event in it. Throws FastCGIProtocolError on bad input
   * (and again on every later push). A push from inside a handler of this same decoder is queued and
   * decoded when the current chunk is done.
   */
  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (this.ended) throw new TypeError('fcgi-wasm: push() after end()');
    if (this.busy) {
      this.queue.push(chunk);
      return;
    }
    this.busy = true;
    try {
      this.decodeChunk(chunk);
      while (this.queue.length > 0) this.decodeChunk(this.queue.shift()!);
    } finally {
      this.busy = false;
      this.queue.length = 0;
    }
  }

  /** Signals end of stream: throws if it ended inside a record or a pair (TRUNCATED_*, NV_TRUNCATED). */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.ended) return;
    this.ended = true;
    if (this.snapshot === null && this.c.owner !== this) return; // nothing was ever pushed
    this.own();
    const code = this.c.x.finish();
    this.c.acquire(null);
    this.snapshot = null;
    if (code !== 0) throw this.fail(decodeError(code, this.base, 'end of stream'));
  }

  private fail(err: FastCGIProtocolError): FastCGIProtocolError {
    this.failure = err;
    if (this.c.owner === this) this.c.acquire(null);
    this.snapshot = null;
    this.split = null;
    return err;
  }

  /** Puts this decoder's state into the wasm instance. */
  private own(): void {
    const c = this.c;
    if (!c.acquire(this)) return;
    const snap = this.snapshot;
    if (snap === null) {
      c.x.reset(this.maxPairBytes);
      return;
    }
    const u32snap = new Uint32Array(snap.buffer, snap.byteOffset, c.STATE_SIZE >>> 2);
    const rows = u32snap[StateField.CARRIES >>> 2]!;
    const used = u32snap[StateField.ARENA_USED >>> 2]!;
    c.ensure(c.ARENA + used);
    const u8 = c.u8;
    u8.set(snap.subarray(0, c.STATE_SIZE), c.STATE);
    u8.set(snap.subarray(c.STATE_SIZE, c.STATE_SIZE + rows * c.CARRY_ROW), c.CARRIES);
    u8.set(snap.subarray(c.STATE_SIZE + rows * c.CARRY_ROW), c.ARENA);
    this.snapshot = null;
  }

  saveState(): void {
    const c = this.c;
    const u8 = c.u8;
    const u32 = c.u32;
    const rows = u32[(c.STATE + StateField.CARRIES) >>> 2]!;
    const used = u32[(c.STATE + StateField.ARENA_USED) >>> 2]!;
    const snap = new Uint8Array(c.STATE_SIZE + rows * c.CARRY_ROW + used);
    snap.set(u8.subarray(c.STATE, c.STATE + c.STATE_SIZE), 0);
    snap.set(u8.subarray(c.CARRIES, c.CARRIES + rows * c.CARRY_ROW), c.STATE_SIZE);
    snap.set(u8.subarray(c.ARENA, c.ARENA + used), c.STATE_SIZE + rows * c.CARRY_ROW);
    this.snapshot = snap;
  }

  private decodeChunk(chunk: Uint8Array): void {
    const c = this.c;
    const x = c.x;
    const len = chunk.length;
    let start = 0;
    while (start < len) {
      this.own();
      const n = Math.min(len - start, Math.max(this.want, this.window));
      c.u8.set(chunk.subarray(start, start + n), c.INPUT);
      const next = x.decode(len, start, n, this.base);
      this.want = x.want();
      const count = x.events();
      if (next > start + n) this.window = MIN_WINDOW;
      else if (next === start + n && this.window < MAX_WINDOW) this.window *= 2;
      if (next <= start && count === 0 && this.want <= n) {
        throw this.fail(new FastCGIProtocolError('INTERNAL', 'decoder made no progress', this.base + start));
      }
      this.dispatch(chunk, count);
      start = next;
    }
    this.base += len;
  }

  /** Copies the event table (and any pairs held in wasm memory) out, then calls the handler. */
  private dispatch(chunk: Uint8Array, count: number): void {
    const c = this.c;
    const words = count * 4;
    let ev = eventCopies[depth];
    if (ev === undefined || ev.length < words) ev = eventCopies[depth] = new Uint32Array(Math.max(words, 1024));
    ev.set(c.u32.subarray(c.EVENTS >>> 2, (c.EVENTS >>> 2) + words));
    let carried: Map<number, Uint8Array> | null = null;
    if (c.u32[(c.STATE + StateField.DONE) >>> 2]! > 0) {
      carried = new Map();
      const u8 = c.u8;
      for (let i = 0; i < words; i += 4) {
        if ((ev[i]! & 0xff) === Ev.PAIR_CARRIED) carried.set(i, u8.slice(ev[i + 1]!, ev[i + 1]! + ev[i + 2]! + ev[i + 3]!));
      }
    }
    depth++;
    try {
      this.dispatchEvents(chunk, ev, words, carried);
    } finally {
      depth--;
    }
  }

  private dispatchEvents(chunk: Uint8Array, ev: Uint32Array, words: number, carried: Map<number, Uint8Array> | null): void {
    const h = this.handler;
    for (let i = 0; i < words; i += 4) {
      const w0 = ev[i]!;
      const kind = w0 & 0xff;
      const type = (w0 >>> 8) & 0xff;
      const id = w0 >>> 16;
      switch (kind) {
        case Ev.RECORD: {
          const off = ev[i + 1]!;
          const clen = ev[i + 2]!;
          if (type === RecordType.PARAMS) this.countParams(id, clen, this.base + off - 8);
          h.record?.(type, id, chunk.subarray(off, off + clen), ev[i + 3]!);
          if (isPairType(type)) {
            const list = new PairList();
            while (i + 4 < words && isPairEvent(ev[i + 4]! & 0xff)) {
              i += 4;
              addPair(list, chunk, ev, i, carried);
            }
            h.pairs?.(type, id, list);
          }
          break;
        }
        case Ev.HEADER: {
          const clen = ev[i + 1]!;
          this.split = {
            type, requestId: id, content: new Uint8Array(clen), filled: 0,
            pairs: isPairType(type) ? new PairList() : null, headerAt: this.base + ev[i + 3]! - 8,
          };
          break;
        }
        case Ev.CONTENT: {
          const s = this.split!;
          const off = ev[i + 1]!;
          const n = ev[i + 2]!;
          s.content.set(chunk.subarray(off, off + n), s.filled);
          s.filled += n;
          break;
        }
        case Ev.PAIR:
        case Ev.PAIR_CARRIED:
          addPair(this.split!.pairs!, chunk, ev, i, carried);
          break;
        case Ev.RECORD_END: {
          const s = this.split!;
          this.split = null;
          if (s.type === RecordType.PARAMS) this.countParams(s.requestId, s.content.length, s.headerAt);
          h.record?.(s.type, s.requestId, s.content, ev[i + 2]!);
          if (s.pairs) h.pairs?.(s.type, s.requestId, s.pairs);
          break;
        }
        case Ev.BEGIN:
          this.paramsBytes.delete(id);
          h.begin?.(id, ev[i + 1]!, ev[i + 2]!);
          break;
        case Ev.END:
          h.end?.(id, ev[i + 1]!, ev[i + 2]!);
          break;
        case Ev.UNKNOWN_TYPE:
          h.unknownType?.(ev[i + 1]!);
          break;
        case Ev.ERROR:
          throw this.fail(decodeError(ev[i + 1]!, this.c.errorOffset()));
        default:
          throw this.fail(new FastCGIProtocolError('INTERNAL', `unknown decoder event ${kind}`, this.base));
      }
    }
  }

  /**
   * Counts a complete PARAMS record against maxParamsBytes (at completion, so that the outcome does
   * not depend on how the stream was cut); an empty one ends the request's params.
   */
  private countParams(id: number, clen: number, headerAt: number): void {
    if (clen === 0) {
      this.paramsBytes.delete(id);
      return;
    }
    const total = (this.paramsBytes.get(id) ?? 0) + clen;
    if (total > this.maxParamsBytes) {
      throw this.fail(
        new FastCGIProtocolError(
          'PARAMS_TOO_LARGE',
          `PARAMS_TOO_LARGE: request ${id} sent ${total} bytes of FCGI_PARAMS, more than maxParamsBytes ${this.maxParamsBytes}`,
          headerAt,
        ),
      );
    }
    this.paramsBytes.set(id, total);
  }
}

function isPairType(type: number): boolean {
  return type === RecordType.PARAMS || type === RecordType.GET_VALUES || type === RecordType.GET_VALUES_RESULT;
}
function isPairEvent(kind: number): boolean {
  return kind === Ev.PAIR || kind === Ev.PAIR_CARRIED;
}
function addPair(list: PairList, chunk: Uint8Array, ev: Uint32Array, i: number, carried: Map<number, Uint8Array> | null): void {
  if ((ev[i]! & 0xff) === Ev.PAIR) list.add(chunk, ev[i + 1]!, ev[i + 2]!, ev[i + 3]!);
  else list.add(carried!.get(i)!, 0, ev[i + 2]!, ev[i + 3]!);
}

export function limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`fcgi-wasm: ${name} must be an integer from 0 to 4294967295, got ${value}`);
  }
  return value;
}
