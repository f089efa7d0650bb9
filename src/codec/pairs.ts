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
  /** The buffer each pair lies in, and three numbers per pair: name start, name length, value length. */
  private readonly bufs: Uint8Array[] = [];
  private readonly offs: number[] = [];
  private names: string[] | undefined;
  private values: (string | undefined)[] | undefined;
  /**
   * When every pair lies in one buffer (a record inside one chunk, the usual case), the bytes from the
   * first name to the last value are decoded once and names and values are cut from that string:
   * one native call per record instead of two per pair. (Latin-1: byte offsets are string offsets.)
   */
  private span: string | undefined;
  private spanStart = 0;
  private oneBuffer = true;
  /** Pairs outside the first buffer (a pair carried across chunks, in its own copy) are decoded alone. */
  private mixed = false;

  /** Adds a pair whose name starts at `start` in `buf`, its value right after the name. */
  add(buf: Uint8Array, start: number, nameLength: number, valueLength: number): void {
    if (this.bufs.length > 0 && buf !== this.bufs[0]) this.mixed = true;
    this.bufs.push(buf);
    this.offs.push(start, nameLength, valueLength);
  }

  /** The string of bytes [start, end) of pair i's buffer. */
  private text(i: number, start: number, end: number): string {
    const primary = this.bufs[0]!;
    if (!this.oneBuffer || this.bufs[i] !== primary) return latin1(this.bufs[i]!, start, end);
    if (this.span === undefined) {
      // from the first pair to the last one in the primary buffer (they come in increasing offsets)
      let last = this.length - 1;
      while (this.mixed && this.bufs[last] !== primary) last--;
      this.spanStart = this.offs[0]!;
      this.span = latin1(primary, this.spanStart, this.offs[3 * last]! + this.offs[3 * last + 1]! + this.offs[3 * last + 2]!);
    }
    return this.span.substring(start - this.spanStart, end - this.spanStart);
  }

  /** Adds every pair of `other` (the pairs of a stream's next record). */
  append(other: PairList): void {
    // still one primary buffer if both lists share it (records of one chunk)
    this.oneBuffer = this.length === 0 ? other.oneBuffer : this.oneBuffer && other.oneBuffer && other.bufs[0] === this.bufs[0];
    this.mixed ||= other.mixed;
    for (let i = 0; i < other.length; i++) {
      this.bufs.push(other.bufs[i]!);
      this.offs.push(other.offs[3 * i]!, other.offs[3 * i + 1]!, other.offs[3 * i + 2]!);
    }
    this.span = undefined;
    this.names = undefined;
    this.values = undefined;
  }

  get length(): number {
    return this.bufs.length;
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
    return this.bufs[i]!.subarray(start, start + this.offs[3 * i + 1]!);
  }
  valueBytes(i: number): Uint8Array {
    const start = this.offs[3 * i]! + this.offs[3 * i + 1]!;
    return this.bufs[i]!.subarray(start, start + this.offs[3 * i + 2]!);
  }
  /** The value decoded as UTF-8 (e.g. a REQUEST_URI a browser sent raw). */
  valueUtf8(i: number): string {
    return utf8Decoder.decode(this.valueBytes(i));
  }
  /** The last value of `name`, or undefined. */
  get(name: string): string | undefined {
    for (let i = this.length - 1; i >= 0; i--) if (this.name(i) === name) return this.value(i);
    return undefined;
  }
  has(name: string): boolean {
    for (let i = this.length - 1; i >= 0; i--) if (this.name(i) === name) return true;
    return false;
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
