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

/**
 * The pairs of one record (or one standalone body), in wire order, duplicates kept. `get()` and
 * `toObject()` give the last value of a repeated name, as php-fpm and Go do.
 */
export class PairList implements Iterable<[string, string]> {
  /**
   * Three numbers per pair: name start, name length, value length, in the buffer the pair lies in:
   * the list's first buffer, or for the few pairs that lie elsewhere (a pair carried across chunks, in
   * its own copy) the one `elsewhere` names.
   */
  private readonly offs: number[] = [];
  private primary: Uint8Array | null = null;
  private elsewhere: Map<number, Uint8Array> | null = null;
  private names: string[] | undefined;
  private values: (string | undefined)[] | undefined;
  /**
   * The bytes from the first name to the last value in the first buffer, decoded once: names and
   * values are cut from that string, one native call per record instead of two per pair. (Latin-1:
   * byte offsets are string offsets.)
   */
  private span: string | undefined;
  private spanStart = 0;
  private spanEnd = 0;

  /** Adds a pair whose name starts at `start` in `buf`, its value right after the name. */
  add(buf: Uint8Array, start: number, nameLength: number, valueLength: number): void {
    const i = this.length;
    if (this.primary === null) this.primary = buf;
    else if (buf !== this.primary) (this.elsewhere ??= new Map()).set(i, buf);
    this.offs.push(start, nameLength, valueLength);
  }

  private bufferOf(i: number): Uint8Array {
    return this.elsewhere?.get(i) ?? this.primary!;
  }

  /** The string of bytes [start, end) of pair i's buffer. */
  private text(i: number, start: number, end: number): string {
    if (this.elsewhere?.has(i)) return latin1(this.elsewhere.get(i)!, start, end);
    if (this.span === undefined) {
      // from the first pair to the last one in the first buffer (they come in increasing offsets)
      let last = this.length - 1;
      while (this.elsewhere?.has(last)) last--;
      this.spanStart = this.offs[0]!;
      this.spanEnd = this.offs[3 * last]! + this.offs[3 * last + 1]! + this.offs[3 * last + 2]!;
      this.span = latin1(this.primary!, this.spanStart, this.spanEnd);
    }
    if (start < this.spanStart || end > this.spanEnd) return latin1(this.primary!, start, end);
    return this.span.substring(start - this.spanStart, end - this.spanStart);
  }

  /** Adds every pair of `other` (the pairs of a stream's next record). */
  append(other: PairList): void {
    const n = this.length;
    for (let i = 0; i < other.length; i++) {
      const buf = other.bufferOf(i);
      if (this.primary === null) this.primary = buf;
      else if (buf !== this.primary) (this.elsewhere ??= new Map()).set(n + i, buf);
      this.offs.push(other.offs[3 * i]!, other.offs[3 * i + 1]!, other.offs[3 * i + 2]!);
    }
    // a span made before may not reach the new pairs; names and values made before stay right
    if (this.span !== undefined && other.length > 0) this.span = undefined;
  }

  get length(): number {
    return this.offs.length / 3;
  }
  name(i: number): string {
    const names = (this.names ??= []);
    return (names[i] ??= this.text(i, this.offs[3 * i]!, this.offs[3 * i]! + this.offs[3 * i + 1]!));
  }
  value(i: number): string {
    const values = (this.values ??= []);
    let v = values[i];
    if (v === undefined) {
      const start = this.offs[3 * i]! + this.offs[3 * i + 1]!;
      v = values[i] = this.text(i, start, start + this.offs[3 * i + 2]!);
    }
    return v;
  }
  nameBytes(i: number): Uint8Array {
    const start = this.offs[3 * i]!;
    return this.bufferOf(i).subarray(start, start + this.offs[3 * i + 1]!);
  }
  valueBytes(i: number): Uint8Array {
    const start = this.offs[3 * i]! + this.offs[3 * i + 1]!;
    return this.bufferOf(i).subarray(start, start + this.offs[3 * i + 2]!);
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
    for (let i = this.length - 1; i >= 0; i--) if (offs[3 * i + 1] === name.length && this.name(i) === name) return i;
    return -1;
  }
  toArray(): [string, string][] {
    const out: [string, string][] = new Array(this.length);
    for (let i = 0; i < this.length; i++) out[i] = [this.name(i), this.value(i)];
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
