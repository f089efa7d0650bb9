// Name-value pairs as decoded by the wasm codec: offsets into the bytes they arrived in, turned into
// strings only when read, each string decoded once.

// Node's Buffer has a native Latin-1 slice that works on any Uint8Array; other runtimes take the
// portable path. Looked up once: a lookup per string costs more than a short string.
const nativeLatin1 = (globalThis as { Buffer?: { prototype: { latin1Slice?: (this: Uint8Array, s: number, e: number) => string } } }).Buffer?.prototype
  .latin1Slice;

/** Latin-1 (one byte, one UTF-16 unit) decoding: CGI params are bytes, and this keeps every byte. */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  if (nativeLatin1 !== undefined) return nativeLatin1.call(buf, start, end);
  if (end - start <= 32) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
    return s;
  }
  let s = '';
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}

const utf8Decoder = new TextDecoder('utf-8');

/** The pairs of a list that lie in one buffer, and their bytes decoded once (see PairList.text). */
export interface Segment {
  buf: Uint8Array;
  /** From the first pair's name to the last pair's value, in `buf`. */
  start: number;
  end: number;
  /** Bytes [start, end) as one Latin-1 string (byte offsets are string offsets), made on first read. */
  span: string | undefined;
}

/**
 * The pairs of one record (or one standalone body), in wire order, duplicates kept. `get()` and
 * `toObject()` give the last value of a repeated name, as php-fpm and Go do. A pair is offsets into
 * the bytes it arrived in: a view of a pushed chunk (a record split across chunks has pairs in several)
 * or, for a pair carried across chunks or records, a copy of its own.
 */
export class PairList implements Iterable<[string, string]> {
  /** Four numbers per pair: its segment, its name's start in the segment's buffer, name length, value length. */
  private offs: number[];
  private segs: Segment[];
  private names: string[] | undefined;
  private values: (string | undefined)[] | undefined;

  constructor() {
    this.offs = [];
    this.segs = [];
  }

  /** A list of the pairs a decoder gathered: `offs` as in the list, each pair's segment in `segs`. */
  static gathered(segs: Segment[], offs: number[]): PairList {
    const list = new PairList();
    list.segs = segs;
    list.offs = offs;
    return list;
  }

  /** Adds a pair whose name starts at `start` in `buf`, its value right after the name. */
  add(buf: Uint8Array, start: number, nameLength: number, valueLength: number): void {
    const segs = this.segs;
    let seg = segs[segs.length - 1];
    const end = start + nameLength + valueLength;
    if (seg === undefined || seg.buf !== buf) {
      seg = { buf, start, end, span: undefined };
      segs.push(seg);
    } else if (end > seg.end) {
      seg.end = end; // pairs of one buffer come in increasing offsets
    }
    this.offs.push(segs.length - 1, start, nameLength, valueLength);
  }

  /** Adds every pair of `other` (the pairs of a stream's next record). */
  append(other: PairList): void {
    const shift = this.segs.length;
    for (const seg of other.segs) this.segs.push(seg);
    const o = other.offs;
    for (let i = 0; i < o.length; i += 4) this.offs.push(o[i]! + shift, o[i + 1]!, o[i + 2]!, o[i + 3]!);
  }

  /** The string of bytes [start, end) of pair i's buffer: cut from its segment's span, decoded once. */
  private text(i: number, start: number, end: number): string {
    const seg = this.segs[this.offs[4 * i]!]!;
    seg.span ??= latin1(seg.buf, seg.start, seg.end);
    return seg.span.substring(start - seg.start, end - seg.start);
  }

  get length(): number {
    return this.offs.length >>> 2;
  }
  name(i: number): string {
    const names = (this.names ??= []);
    return (names[i] ??= this.text(i, this.offs[4 * i + 1]!, this.offs[4 * i + 1]! + this.offs[4 * i + 2]!));
  }
  value(i: number): string {
    const values = (this.values ??= []);
    let v = values[i];
    if (v === undefined) {
      const start = this.offs[4 * i + 1]! + this.offs[4 * i + 2]!;
      v = values[i] = this.text(i, start, start + this.offs[4 * i + 3]!);
    }
    return v;
  }
  nameBytes(i: number): Uint8Array {
    const start = this.offs[4 * i + 1]!;
    return this.segs[this.offs[4 * i]!]!.buf.subarray(start, start + this.offs[4 * i + 2]!);
  }
  valueBytes(i: number): Uint8Array {
    const start = this.offs[4 * i + 1]! + this.offs[4 * i + 2]!;
    return this.segs[this.offs[4 * i]!]!.buf.subarray(start, start + this.offs[4 * i + 3]!);
  }
  /** The value decoded as UTF-8 (e.g. a REQUEST_URI a browser sent raw). */
  valueUtf8(i: number): string {
    return utf8Decoder.decode(this.valueBytes(i));
  }
  /** The last value of `name`, or undefined. */
  get(name: string): string | undefined {
    const i = this.lastIndexOf(name);
    return i < 0 ? undefined : this.value(i);
  }
  has(name: string): boolean {
    return this.lastIndexOf(name) >= 0;
  }
  /** Names of another length are passed over without being made into strings. */
  private lastIndexOf(name: string): number {
    const offs = this.offs;
    for (let i = this.length - 1; i >= 0; i--) if (offs[4 * i + 2] === name.length && this.name(i) === name) return i;
    return -1;
  }
  toArray(): [string, string][] {
    const n = this.length;
    const out: [string, string][] = new Array(n);
    if (this.names !== undefined || this.values !== undefined) {
      for (let i = 0; i < n; i++) out[i] = [this.name(i), this.value(i)];
      return out;
    }
    // nothing read yet: make each string once, straight into the result, without filling the caches
    const o = this.offs;
    for (let i = 0; i < n; i++) {
      const start = o[4 * i + 1]!;
      const mid = start + o[4 * i + 2]!;
      out[i] = [this.text(i, start, mid), this.text(i, mid, mid + o[4 * i + 3]!)];
    }
    return out;
  }
  toObject(): Record<string, string> {
    const out: Record<string, string> = Object.create(null);
    for (let i = 0; i < this.length; i++) out[this.name(i)] = this.value(i);
    return out;
  }
  *[Symbol.iterator](): Iterator<[string, string]> {
    for (let i = 0; i < this.length; i++) yield [this.name(i), this.value(i)];
  }
}
