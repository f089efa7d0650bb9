// Decoder: FastCGI records from a byte stream pushed in chunks of any size, split at any byte.
//
// One wasm call per window of a chunk (usually one per chunk); wasm writes an event table that this
// class copies out with one Uint32Array. Record content is handed on as fragments, views of the pushed
// chunk: a record split across chunks comes as one fragment per chunk, never reassembled nor copied.
// Whole records (record()) are joined from those fragments for the tools that want them. Pairs are
// decoded in wasm into offsets, and become strings only when read (PairList). The decoder's state lives
// in wasm memory, in a slot of its own, from its first push to its end (assembly/heap.ts).

import { codec, type Codec } from './wasm.js';
import { Err, Ev, Frag, Globals, Phase, RecordType, State } from './contract.generated.js';
import { decodeError, FastCGIProtocolError } from './errors.js';
import { PairList, type Segment } from './pairs.js';
import { concatBytes } from './bytes.js';

export interface DecoderHandler {
  /**
   * Record content as it arrives, for every record, in stream order: `bytes` is a view of the chunk
   * you pushed (never a copy), valid as long as you do not change that chunk. A record lying in one
   * chunk is one fragment (flags START | END); one split across chunks is one fragment per chunk. An
   * empty record is one empty fragment; for PARAMS, STDIN, STDOUT, STDERR and DATA it also has
   * STREAM_END. `flags >>> 8` is the record's padding length (see Fragment). `offset`: the
   * stream offset of bytes[0].
   */
  fragment?(type: number, requestId: number, bytes: Uint8Array, flags: number, offset: number): void;
  /**
   * Every record, whole, in stream order, right after its last fragment: `content` is that fragment
   * when the record lay in one chunk, else a copy joining its fragments. `offset`: the stream offset
   * of the record's header.
   */
  record?(type: number, requestId: number, content: Uint8Array, paddingLength: number, offset: number): void;
  /**
   * The pairs completed by one PARAMS, GET_VALUES or GET_VALUES_RESULT record, after its last fragment.
   * `continues`: a pair of this PARAMS stream is left partial at the end of this record, its bytes
   * going on in the stream's next record (legal, but php-fpm rejects it: tools report it).
   */
  pairs?(type: number, requestId: number, pairs: PairList, continues: boolean): void;
  /** A BEGIN_REQUEST body, after its record. */
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
  /**
   * Most wasm memory the partial pairs of this decoder may hold together at the end of a PARAMS record
   * (each takes a 128-byte slot and 1 KiB pages of 1020 bytes); more fails with PARTIAL_PAIRS_TOO_LARGE.
   * Default: maxPairBytes plus a sixteenth of it plus 64 KiB.
   */
  maxPartialPairBytes?: number;
}

export const DEFAULT_MAX_PARAMS_BYTES = 1 << 20;

/** Room for the longest pair allowed to straddle records, and a few short ones besides. */
export function defaultPartialPairBudget(maxPairBytes: number): number {
  return Math.min(0xffffffff, maxPairBytes + Math.ceil(maxPairBytes / 16) + 65536);
}

// Window sizes: a window grows while wasm reads every byte (small records), and shrinks to the minimum
// when wasm skipped content it does not read (large STDIN/STDOUT payloads are never copied in).
const MIN_WINDOW = 512;
const MAX_WINDOW = 65536;
const WHOLE = Frag.START | Frag.END;
const PAIR_TYPES = new Uint8Array(256);
PAIR_TYPES[RecordType.PARAMS] = PAIR_TYPES[RecordType.GET_VALUES] = PAIR_TYPES[RecordType.GET_VALUES_RESULT] = 1;
/** Types whose content wasm does not read: all but the pair types and the fixed bodies (BEGIN, END, UNKNOWN_TYPE). */
const OPAQUE = new Uint8Array(256).fill(1);
for (const t of [RecordType.PARAMS, RecordType.GET_VALUES, RecordType.GET_VALUES_RESULT, RecordType.BEGIN_REQUEST, RecordType.END_REQUEST, RecordType.UNKNOWN_TYPE]) OPAQUE[t] = 0;

/** A decoder whose wasm state nobody freed (it was dropped without end() or dispose()): free it now. */
const orphans = new FinalizationRegistry<number>((state) => codec().x.freeDecoder(state));

// Each dispatch reads its own copy of the event table, so that a handler may call into wasm (another
// decoder's push, an encoder growing memory) without overwriting it; nested dispatches take the next one.
const eventCopies: Uint32Array[] = [];
let dispatchDepth = 0;

type FragmentFn = NonNullable<DecoderHandler['fragment']>;
type RecordFn = NonNullable<DecoderHandler['record']>;

export class Decoder {
  private readonly c: Codec = codec();
  private readonly handler: DecoderHandler;
  private readonly onFragment: FragmentFn | undefined;
  private readonly onRecord: RecordFn | undefined;
  private readonly maxPairBytes: number;
  private readonly maxParamsBytes: number;
  private readonly partialBudget: number;
  /** This decoder's state slot in wasm memory; 0 before the first push and once freed. */
  private state = 0;
  /** Stream offset of the chunk being decoded. */
  private base = 0;
  private window = MIN_WINDOW;
  private want = 0;
  /** Stream offset of the header of the record being delivered. */
  private recordAt = 0;
  /** The pairs of the pair record being decoded, until its end: four numbers each (as in PairList), in a reused array. */
  private readonly pairOffs: number[] = [];
  private pairCount = 0;
  /** The buffers those pairs lie in (usually the one chunk). */
  private pairSegs: Segment[] | null = null;
  /** The fragments of a split record being joined for record(). */
  private parts: Uint8Array[] | null = null;
  /** PARAMS bytes received per open request id. */
  private readonly paramsBytes = new Map<number, number>();
  private failure: FastCGIProtocolError | null = null;
  private ended = false;
  private disposed = false;
  private busy = false;
  private readonly queue: Uint8Array[] = [];

  constructor(handler: DecoderHandler, options: DecoderOptions = {}) {
    this.handler = handler;
    this.onFragment = handler.fragment;
    this.onRecord = handler.record;
    this.maxPairBytes = limit(options.maxPairBytes, DEFAULT_MAX_PARAMS_BYTES, 'maxPairBytes');
    this.maxParamsBytes = limit(options.maxParamsBytes, DEFAULT_MAX_PARAMS_BYTES, 'maxParamsBytes');
    this.partialBudget = limit(options.maxPartialPairBytes, defaultPartialPairBudget(this.maxPairBytes), 'maxPartialPairBytes');
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
   * decoded when the current chunk is done. Do not change a chunk after pushing it while you hold views
   * of it (fragments, record contents, pairs): the decoder never copies it.
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
      if (this.state === 0) this.allocate();
      this.decodeChunk(chunk);
      while (this.queue.length > 0 && !this.disposed) this.decodeChunk(this.queue.shift()!);
    } finally {
      this.busy = false;
      if (this.queue.length > 0) this.queue.length = 0; // a decoder that failed drops what was queued
      if (this.disposed || this.failure) this.release();
    }
  }

  /**
   * Lets go of everything this decoder holds (its wasm state and partial pairs, a split record): for a
   * stream that will never be read again. Later pushes throw as after end(); a dispatch in progress
   * stops after the current event.
   */
  dispose(): void {
    this.ended = this.disposed = true;
    this.pairSegs = null;
    this.parts = null;
    if (this.paramsBytes.size > 0) this.paramsBytes.clear();
    if (!this.busy) this.release(); // else the push in progress frees it when it unwinds
  }

  /** Signals end of stream: throws if it ended inside a record (TRUNCATED_*). Frees the wasm state. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.ended) return;
    if (this.busy) throw new TypeError('fcgi-wasm: end() from inside a handler of the same decoder');
    this.ended = true;
    if (this.state === 0) return; // nothing was ever pushed
    const code = this.c.x.finish(this.state);
    this.release();
    if (code !== 0) throw this.fail(decodeError(code, this.base, 'end of stream'));
  }

  private allocate(): void {
    const state = this.c.x.newDecoder(this.maxPairBytes, this.partialBudget);
    if (state === 0) throw this.fail(decodeError(Err.OUT_OF_MEMORY, this.base, 'no memory for a new decoder'));
    this.state = state;
    orphans.register(this, state, this);
  }

  private release(): void {
    if (this.state === 0) return;
    this.c.x.freeDecoder(this.state);
    orphans.unregister(this);
    this.state = 0;
  }

  private fail(err: FastCGIProtocolError): FastCGIProtocolError {
    this.failure = err;
    this.pairSegs = null;
    this.parts = null;
    if (!this.busy) this.release();
    return err;
  }

  private decodeChunk(chunk: Uint8Array): void {
    const c = this.c;
    const x = c.x;
    const state = this.state;
    const len = chunk.length;
    if (len === 0) return;
    // The whole chunk lies inside the content of a record wasm does not read (the middle of a large
    // STDIN or STDOUT record): it is one fragment, and wasm need not see it. The state says so, and
    // takes the chunk as wasm's CONTENT phase would (assembly/decoder.ts): REM down, STARTED set.
    const u32 = c.u32;
    const s = state >>> 2;
    const rem = u32[s + (State.REM >>> 2)]!;
    if (rem > len && u32[s + (State.PHASE >>> 2)] === Phase.CONTENT && OPAQUE[u32[s + (State.TYPE >>> 2)]!] === 1 && u32[s + (State.ERROR >>> 2)] === 0) {
      u32[s + (State.REM >>> 2)] = rem - len;
      const flags = u32[s + (State.STARTED >>> 2)] === 0 ? Frag.START : 0;
      u32[s + (State.STARTED >>> 2)] = 1;
      this.deliver(u32[s + (State.TYPE >>> 2)]!, u32[s + (State.ID >>> 2)]!, new Uint8Array(chunk.buffer, chunk.byteOffset, len), flags, this.base);
      this.base += len;
      return;
    }
    let start = 0;
    while (start < len && !this.disposed) {
      const n = Math.min(len - start, Math.max(this.want, this.window));
      c.u8.set(start === 0 && n === len ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset + start, n), c.INPUT);
      const next = x.decode(state, len, start, n, this.base);
      const count = c.global(Globals.EVENTS);
      this.want = c.global(Globals.WANT);
      // Shrink the window after wasm skipped a payload longer than it (large records are never copied
      // in); grow it while wasm reads to its end (small records: about one call per chunk).
      if (next > start + n + this.window) this.window = MIN_WINDOW;
      else if (next + 8 >= start + n && this.window < MAX_WINDOW) this.window *= 2;
      if (next <= start && count === 0 && this.want <= n) {
        throw this.fail(new FastCGIProtocolError('INTERNAL', 'decoder made no progress', this.base + start));
      }
      if (count > 0) this.dispatch(chunk, count);
      start = next;
    }
    this.base += len;
  }

  /** Calls the handler for a batch of events, read from a copy of the event table. */
  private dispatch(chunk: Uint8Array, count: number): void {
    const c = this.c;
    const words = count * 4;
    let ev = eventCopies[dispatchDepth];
    if (ev === undefined || ev.length < words) ev = eventCopies[dispatchDepth] = new Uint32Array(Math.max(words, 4096));
    ev.set(c.u32.subarray(c.EVENTS >>> 2, (c.EVENTS >>> 2) + words));
    // pairs completed from carried bytes: copied out of their pages, which wasm then frees
    let carried: Uint8Array[] | null = null;
    if (c.global(Globals.DONE) > 0) {
      carried = c.copyCarried(ev, words);
      c.x.releaseCarried(this.state);
    }
    dispatchDepth++;
    try {
      this.dispatchEvents(chunk, ev, words, carried);
    } finally {
      dispatchDepth--;
    }
  }

  private dispatchEvents(chunk: Uint8Array, ev: Uint32Array, words: number, carried: Uint8Array[] | null): void {
    const h = this.handler;
    const ab = chunk.buffer;
    const bo = chunk.byteOffset;
    const base = this.base;
    const onFragment = this.onFragment;
    const whole = this.onRecord === undefined;
    for (let i = 0; i < words && !this.disposed; i += 4) {
      const w0 = ev[i]!;
      const type = (w0 >>> 8) & 0xff;
      const id = w0 >>> 16;
      switch (w0 & 0xff) {
        case Ev.FRAGMENT: {
          const off = ev[i + 1]!;
          const info = ev[i + 3]!;
          const bytes = new Uint8Array(ab, bo + off, ev[i + 2]!);
          // the hot path: a record in one chunk, with nothing to do but hand its content on
          if (whole && (info & WHOLE) === WHOLE && PAIR_TYPES[type] === 0) onFragment?.call(h, type, id, bytes, info & 0xffff, base + off);
          else this.deliver(type, id, bytes, info, base + off);
          break;
        }
        case Ev.PAIR:
          this.addPair(chunk, ev[i + 1]!, ev[i + 2]!, ev[i + 3]!);
          break;
        case Ev.PAIR_CARRIED:
          this.addPair(carried![ev[i + 1]!]!, 0, ev[i + 2]!, ev[i + 3]!);
          break;
        case Ev.BEGIN:
          if (this.paramsBytes.has(id)) this.paramsBytes.set(id, 0);
          h.begin?.(id, ev[i + 1]!, ev[i + 2]!);
          break;
        case Ev.END:
          h.end?.(id, ev[i + 1]!, ev[i + 2]!);
          break;
        case Ev.UNKNOWN_TYPE:
          h.unknownType?.(ev[i + 1]!);
          break;
        case Ev.ERROR:
          throw this.fail(decodeError(ev[i + 1]!, this.c.f64(this.state + State.ERR_AT)));
        default:
          throw this.fail(new FastCGIProtocolError('INTERNAL', `unknown decoder event ${w0 & 0xff}`, this.base));
      }
    }
  }

  /**
   * One fragment: to fragment(), then, when it ends its record, the record-level callbacks. `info` is
   * the event's last word: Frag flags | padding << 8 | content length << 16.
   */
  private deliver(type: number, id: number, bytes: Uint8Array, info: number, offset: number): void {
    if ((info & Frag.START) !== 0) this.recordAt = offset - 8;
    const end = (info & Frag.END) !== 0;
    if (end && type === RecordType.PARAMS) this.countParams(id, info >>> 16);
    this.onFragment?.call(this.handler, type, id, bytes, info & 0xffff, offset);
    const onRecord = this.onRecord;
    if (onRecord !== undefined) {
      if ((info & Frag.START) === 0) this.parts!.push(bytes);
      else if (!end) this.parts = [bytes];
      if (end) {
        const content = (info & Frag.START) !== 0 ? bytes : concatBytes(this.parts!);
        this.parts = null;
        if (this.disposed) return;
        onRecord.call(this.handler, type, id, content, (info >>> 8) & 0xff, this.recordAt);
      }
    }
    if (end && PAIR_TYPES[type] === 1 && !this.disposed) {
      const list = PairList.gathered(this.pairSegs ?? [], this.pairOffs.slice(0, 4 * this.pairCount));
      this.pairSegs = null;
      this.pairCount = 0;
      this.handler.pairs?.(type, id, list, (info & Frag.PAIR_OPEN) !== 0);
    }
  }

  /** A pair of the pair record being decoded: its name starts at `start` in `buf`. */
  private addPair(buf: Uint8Array, start: number, nameLength: number, valueLength: number): void {
    const segs = (this.pairSegs ??= []);
    let k = segs.length - 1;
    const end = start + nameLength + valueLength;
    if (k < 0 || segs[k]!.buf !== buf) {
      segs.push({ buf, start, end, span: undefined });
      k++;
    } else if (end > segs[k]!.end) {
      segs[k]!.end = end;
    }
    const o = 4 * this.pairCount++;
    const offs = this.pairOffs;
    offs[o] = k;
    offs[o + 1] = start;
    offs[o + 2] = nameLength;
    offs[o + 3] = valueLength;
  }

  /**
   * Counts a complete PARAMS record against maxParamsBytes (at completion, so that the outcome does
   * not depend on how the stream was cut); an empty one ends the request's params.
   */
  private countParams(id: number, clen: number): void {
    if (clen === 0) {
      // reset, not deleted: a Map that gains and loses an entry per request reallocates its table
      // each time (it holds one entry per request id the peer uses, so stays small)
      this.paramsBytes.set(id, 0);
      return;
    }
    const total = (this.paramsBytes.get(id) ?? 0) + clen;
    if (total > this.maxParamsBytes) {
      throw this.fail(
        new FastCGIProtocolError(
          'PARAMS_TOO_LARGE',
          `PARAMS_TOO_LARGE: request ${id} sent ${total} bytes of FCGI_PARAMS, more than maxParamsBytes ${this.maxParamsBytes}`,
          this.recordAt,
        ),
      );
    }
    this.paramsBytes.set(id, total);
  }
}

export function limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`fcgi-wasm: ${name} must be an integer from 0 to 4294967295, got ${value}`);
  }
  return value;
}
