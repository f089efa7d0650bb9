// Decoder: FastCGI records from a byte stream pushed in chunks of any size, split at any byte.
//
// One wasm call per window of a chunk (usually one per chunk); wasm writes an event table that this
// class reads with one Uint32Array. A record lying inside one chunk is handed on as a view of that
// chunk (no copy); only a record split across chunks is reassembled. Pairs are decoded in wasm into
// offsets, and become strings only when read (PairList).

import { codec, StateField, type Codec } from './wasm.js';
import { Ev, RecordType } from './constants.js';
import { decodeError, FastCGIProtocolError } from './errors.js';
import { PairList } from './pairs.js';

export interface DecoderHandler {
  /**
   * Every record, in stream order. `content` is a view of the pushed chunk when the record lay inside
   * one chunk, otherwise a fresh copy: either way it stays valid (the decoder never reuses a chunk, so
   * do not reuse the chunks you push while you hold their views). `offset`: the stream offset of the
   * record's header.
   */
  record?(type: number, requestId: number, content: Uint8Array, paddingLength: number, offset: number): void;
  /**
   * The pairs completed by one PARAMS, GET_VALUES or GET_VALUES_RESULT record, right after its record().
   * `continues`: a pair of this PARAMS stream is left partial at the end of this record, its bytes
   * going on in the stream's next record (legal, but php-fpm rejects it: tools report it).
   */
  pairs?(type: number, requestId: number, pairs: PairList, continues: boolean): void;
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
  /**
   * Reassemble every record split across chunks into one reused buffer: its content is then valid only
   * during the record() call (like a view into wasm memory), which saves allocating up to 64 KiB per
   * split record. For handlers that consume content at once. Default false.
   */
  reuseSplitBuffer?: boolean;
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
  /** Content wasm does not read (STDIN, STDOUT, STDERR, DATA, unknown types). */
  opaque: boolean;
  /** For the current fragment: its chunk offsets plus this are offsets in `content`. */
  contentShift: number;
  headerAt: number;
}

/** Where a dispatch reads its events: wasm memory in place, or a copy once something could overwrite it. */
interface EventSource {
  ev: Uint32Array;
  /** Index in `ev` of the batch's first word. */
  base: number;
  words: number;
}

// A StateOwner of wasm.ts by shape, not by an `implements` clause: that would put wasm.ts's
// WebAssembly types in the published declarations, which a TypeScript project without the DOM lib
// (a Node server's) cannot read (test/package: the consumer's strict typecheck).
export class Decoder {
  private readonly c: Codec = codec();
  private readonly handler: DecoderHandler;
  private readonly maxPairBytes: number;
  private readonly maxParamsBytes: number;
  /** This decoder's wasm state while another decoder holds the instance; null before the first push. */
  private snapshot: Uint8Array | null = null;
  /** The buffer snapshots are written into, kept between switches. */
  private spare: Uint8Array | null = null;
  /** Stream offset of the chunk being decoded. */
  private base = 0;
  private window = MIN_WINDOW;
  private want = 0;
  private split: SplitRecord | null = null;
  private readonly reuse: boolean;
  private reusable: Uint8Array | null = null;
  /** The batch being dispatched (see rescue()). */
  private source: EventSource | null = null;
  /** PARAMS bytes received per open request id. */
  private readonly paramsBytes = new Map<number, number>();
  private failure: FastCGIProtocolError | null = null;
  private ended = false;
  private disposed = false;
  private busy = false;
  private readonly queue: Uint8Array[] = [];

  constructor(handler: DecoderHandler, options: DecoderOptions = {}) {
    this.handler = handler;
    this.maxPairBytes = limit(options.maxPairBytes, DEFAULT_MAX_PARAMS_BYTES, 'maxPairBytes');
    this.maxParamsBytes = limit(options.maxParamsBytes, DEFAULT_MAX_PARAMS_BYTES, 'maxParamsBytes');
    this.reuse = options.reuseSplitBuffer ?? false;
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
      if (this.disposed) this.dispose();
    }
  }

  /**
   * Lets go of everything this decoder holds (its wasm state, unsaved; a split record; buffers): for a
   * stream that will never be read again. Later pushes throw as after end(); a dispatch in progress
   * stops after the current event.
   */
  dispose(): void {
    this.ended = this.disposed = true;
    if (this.busy) return; // the push in progress finishes the job when it unwinds
    this.c.disown(this);
    this.snapshot = this.spare = this.reusable = null;
    this.split = null;
    if (this.paramsBytes.size > 0) this.paramsBytes.clear();
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
    // the snapshot's bytes are copied back into wasm by own() before the next save: one buffer serves
    // every switch (a tool that interleaves many connections switches once per packet)
    const size = c.STATE_SIZE + rows * c.CARRY_ROW + used;
    if (this.spare === null || this.spare.length < size) this.spare = new Uint8Array(Math.max(size, 2 * c.STATE_SIZE));
    const snap = this.spare.subarray(0, size);
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
    while (start < len && !this.disposed) {
      this.own();
      // The rest of the chunk is the middle of a split STDIN/STDOUT-like record: wasm need not see it.
      const s = this.split;
      if (s !== null && s.opaque && s.content.length - s.filled > len - start && x.skipContent(len - start) > 0) {
        s.content.set(chunk.subarray(start), s.filled);
        s.filled += len - start;
        break;
      }
      const n = Math.min(len - start, Math.max(this.want, this.window));
      c.beforeDecode();
      c.u8.set(chunk.subarray(start, start + n), c.INPUT);
      const next = x.decode(len, start, n, this.base);
      const u32 = c.u32;
      const count = u32[(c.STATE + StateField.EVENTS) >>> 2]!;
      this.want = u32[(c.STATE + StateField.WANT) >>> 2]!;
      // Shrink the window after wasm skipped a payload longer than it (large records are never copied
      // in); grow it while wasm reads to its end (small records: about one call per chunk).
      if (next > start + n + this.window) this.window = MIN_WINDOW;
      else if (next + 8 >= start + n && this.window < MAX_WINDOW) this.window *= 2;
      if (next <= start && count === 0 && this.want <= n) {
        throw this.fail(new FastCGIProtocolError('INTERNAL', 'decoder made no progress', this.base + start));
      }
      this.dispatch(chunk, count);
      start = next;
    }
    this.base += len;
  }

  /**
   * Calls the handler for a batch of events, read in place from wasm memory. Pairs held in wasm memory
   * are copied out first; if a handler makes wasm write again (another decoder's push, memory growth),
   * rescue() copies the batch out before it is overwritten.
   */
  private dispatch(chunk: Uint8Array, count: number): void {
    const c = this.c;
    const words = count * 4;
    const source: EventSource = { ev: c.u32, base: c.EVENTS >>> 2, words };
    let carried: Map<number, Uint8Array> | null = null;
    if (c.u32[(c.STATE + StateField.DONE) >>> 2]! > 0) {
      carried = new Map();
      const { ev, base } = source;
      const u8 = c.u8;
      for (let i = 0; i < words; i += 4) {
        if ((ev[base + i]! & 0xff) === Ev.PAIR_CARRIED) {
          carried.set(i, u8.slice(ev[base + i + 1]!, ev[base + i + 1]! + ev[base + i + 2]! + ev[base + i + 3]!));
        }
      }
    }
    const outer = this.source;
    const outerReader = c.reader;
    this.source = source;
    c.reader = this;
    try {
      this.dispatchEvents(chunk, source, carried);
    } finally {
      this.source = outer;
      c.reader = outerReader;
    }
  }

  /** Wasm memory is about to be overwritten or to grow: keep this batch's events in a copy. */
  rescue(): void {
    const s = this.source;
    if (s === null || s.ev.buffer !== this.c.x.memory.buffer) return; // already a copy
    s.ev = s.ev.slice(s.base, s.base + s.words);
    s.base = 0;
  }

  private dispatchEvents(chunk: Uint8Array, src: EventSource, carried: Map<number, Uint8Array> | null): void {
    const h = this.handler;
    const words = src.words;
    for (let i = 0; i < words && !this.disposed; i += 4) {
      // src.ev and src.base may change under a handler call (rescue): read them afresh each time
      let ev = src.ev;
      let b = src.base + i;
      const w0 = ev[b]!;
      const kind = w0 & 0xff;
      const type = (w0 >>> 8) & 0xff;
      const id = w0 >>> 16;
      switch (kind) {
        case Ev.RECORD: {
          const off = ev[b + 1]!;
          const clen = ev[b + 2]!;
          if (type === RecordType.PARAMS) this.countParams(id, clen, this.base + off - 8);
          const padWord = ev[b + 3]!;
          h.record?.(type, id, chunk.subarray(off, off + clen), padWord & 0xff, this.base + off - 8);
          if (isPairType(type)) {
            const list = new PairList();
            ev = src.ev;
            b = src.base;
            while (i + 4 < words && isPairEvent(ev[b + i + 4]! & 0xff)) {
              i += 4;
              addPair(list, chunk, ev, b + i, i, carried);
            }
            h.pairs?.(type, id, list, padWord > 0xff);
          }
          break;
        }
        case Ev.HEADER: {
          const clen = ev[b + 1]!;
          let content: Uint8Array;
          // pairs are read lazily from their record's content: never from the reused buffer
          if (this.reuse && !isPairType(type)) {
            content = (this.reusable ??= new Uint8Array(0xffff)).subarray(0, clen);
          } else content = new Uint8Array(clen);
          this.split = {
            type, requestId: id, content, filled: 0, pairs: isPairType(type) ? new PairList() : null,
            opaque: !isPairType(type) && !isFixedType(type), contentShift: 0, headerAt: this.base + ev[b + 3]! - 8,
          };
          break;
        }
        case Ev.CONTENT: {
          const s = this.split!;
          const off = ev[b + 1]!;
          const n = ev[b + 2]!;
          s.content.set(chunk.subarray(off, off + n), s.filled);
          s.contentShift = s.filled - off; // chunk offset -> offset in the reassembled content
          s.filled += n;
          break;
        }
        case Ev.PAIR: {
          // a pair inside this fragment: point into the reassembled content, so that the record's
          // pairs share one buffer (and one string)
          const s = this.split!;
          s.pairs!.add(s.content, ev[b + 1]! + s.contentShift, ev[b + 2]!, ev[b + 3]!);
          break;
        }
        case Ev.PAIR_CARRIED:
          addPair(this.split!.pairs!, chunk, ev, b, i, carried);
          break;
        case Ev.RECORD_END: {
          const s = this.split!;
          this.split = null;
          if (s.type === RecordType.PARAMS) this.countParams(s.requestId, s.content.length, s.headerAt);
          const open = ev[b + 3]! !== 0;
          h.record?.(s.type, s.requestId, s.content, ev[b + 2]!, s.headerAt);
          if (s.pairs) h.pairs?.(s.type, s.requestId, s.pairs, open);
          break;
        }
        case Ev.BEGIN:
          if (this.paramsBytes.has(id)) this.paramsBytes.set(id, 0);
          h.begin?.(id, ev[b + 1]!, ev[b + 2]!);
          break;
        case Ev.END:
          h.end?.(id, ev[b + 1]!, ev[b + 2]!);
          break;
        case Ev.UNKNOWN_TYPE:
          h.unknownType?.(ev[b + 1]!);
          break;
        case Ev.ERROR:
          throw this.fail(decodeError(ev[b + 1]!, this.c.errorOffset()));
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
function isFixedType(type: number): boolean {
  return type === RecordType.BEGIN_REQUEST || type === RecordType.END_REQUEST || type === RecordType.UNKNOWN_TYPE;
}
/** Adds the pair of the event at ev[b] (batch word i) to the list. */
function addPair(list: PairList, chunk: Uint8Array, ev: Uint32Array, b: number, i: number, carried: Map<number, Uint8Array> | null): void {
  if ((ev[b]! & 0xff) === Ev.PAIR) list.add(chunk, ev[b + 1]!, ev[b + 2]!, ev[b + 3]!);
  else list.add(carried!.get(i)!, 0, ev[b + 2]!, ev[b + 3]!);
}

export function limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`fcgi-wasm: ${name} must be an integer from 0 to 4294967295, got ${value}`);
  }
  return value;
}
