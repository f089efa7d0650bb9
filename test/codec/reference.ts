// A reference decoder: plain TypeScript over a whole buffer, written to be obviously correct rather
// than fast. The fuzz test holds the wasm Decoder to it, event for event and error for error.
//
// The rules it encodes (the same as the codec's):
// - a header is checked as soon as it is complete: version 1; BEGIN_REQUEST has 8 content bytes and a
//   nonzero id; END_REQUEST and UNKNOWN_TYPE have 8 content bytes;
// - PARAMS, GET_VALUES and GET_VALUES_RESULT content is a run of pairs; a PARAMS pair may continue in
//   the next PARAMS record of the same id; a pair longer than maxPairBytes fails at its first byte;
//   an empty PARAMS, or the end of a GET_VALUES(_RESULT) record, with a partial pair fails NV_TRUNCATED
//   at that record's header; a BEGIN_REQUEST forgets its id's partial pair and PARAMS count;
// - at the end of a PARAMS record that leaves a pair partial, the memory all partial pairs take
//   (each a 128-byte slot and 1 KiB pages of 1020 bytes) over maxPartialPairBytes fails
//   PARTIAL_PAIRS_TOO_LARGE at that record's header;
// - a PARAMS record that takes its request past maxParamsBytes fails PARAMS_TOO_LARGE at its header;
// - a record is delivered when its content is complete (before its padding), whole or not at all;
// - at the end of input, a partial header, content or padding fails TRUNCATED_* at the input length.

export interface RefRecord {
  type: number;
  requestId: number;
  content: number[];
  paddingLength: number;
  pairs?: [number[], number[]][];
  begin?: [number, number];
  end?: [number, number];
  unknownType?: number;
}
export interface RefResult {
  records: RefRecord[];
  error?: { code: string; offset: number };
}
export interface RefOptions {
  maxPairBytes?: number;
  maxParamsBytes?: number;
  maxPartialPairBytes?: number;
}

/** The memory a partial pair of `len` bytes takes (assembly/pairs.ts, charge). */
const charge = (len: number): number => 128 + 1024 * Math.ceil(len / 1020);

const PAIR_TYPES = new Set([4, 9, 10]);

export function referenceDecode(bytes: Uint8Array, options: RefOptions = {}): RefResult {
  const maxPair = options.maxPairBytes ?? 1 << 20;
  const maxParams = options.maxParamsBytes ?? 1 << 20;
  const budget = options.maxPartialPairBytes ?? maxPair + Math.ceil(maxPair / 16) + 65536;
  const records: RefRecord[] = [];
  const partial = new Map<number, { bytes: number[]; began: number }>();
  const paramsBytes = new Map<number, number>();
  const fail = (code: string, offset: number): RefResult => ({ records, error: { code, offset } });

  // Decodes the pairs in content[from, to) (stream offset of content[0] is `at`) for stream `key`.
  // Returns the pairs completed, or an error.
  function pairsOf(key: number, content: Uint8Array, at: number): [number[], number[]][] | RefResult {
    const done: [number[], number[]][] = [];
    const pending = partial.get(key);
    const buf = [...(pending?.bytes ?? []), ...content];
    const offsetOf = (i: number): number => (pending ? (i < pending.bytes.length ? pending.began + i : at + i - pending.bytes.length) : at + i);
    partial.delete(key);
    let i = 0;
    while (i < buf.length) {
      const lengths = readLengths(buf, i);
      if (lengths === null) {
        partial.set(key, { bytes: buf.slice(i), began: offsetOf(i) });
        break;
      }
      const [head, n, v] = lengths;
      if (n + v > maxPair) return fail('PAIR_TOO_LONG', offsetOf(i));
      if (i + head + n + v > buf.length) {
        partial.set(key, { bytes: buf.slice(i), began: offsetOf(i) });
        break;
      }
      done.push([buf.slice(i + head, i + head + n), buf.slice(i + head + n, i + head + n + v)]);
      i += head + n + v;
    }
    return done;
  }

  let o = 0;
  while (o < bytes.length) {
    if (bytes.length - o < 8) return fail('TRUNCATED_HEADER', bytes.length);
    const version = bytes[o]!;
    const type = bytes[o + 1]!;
    const id = (bytes[o + 2]! << 8) | bytes[o + 3]!;
    const clen = (bytes[o + 4]! << 8) | bytes[o + 5]!;
    const plen = bytes[o + 6]!;
    if (version !== 1) return fail('BAD_VERSION', o);
    if (type === 1 && clen !== 8) return fail('BAD_BEGIN_LENGTH', o);
    if (type === 1 && id === 0) return fail('BEGIN_ON_NULL_ID', o);
    if (type === 3 && clen !== 8) return fail('BAD_END_LENGTH', o);
    if (type === 11 && clen !== 8) return fail('BAD_UNKNOWN_TYPE_LENGTH', o);
    if (type === 1) partial.delete((4 << 16) | id);

    const content = bytes.subarray(o + 8, Math.min(bytes.length, o + 8 + clen));
    const rec: RefRecord = { type, requestId: id, content: [...content], paddingLength: plen };
    if (PAIR_TYPES.has(type)) {
      const key = (type << 16) | id;
      const got = pairsOf(key, content, o + 8);
      if (!Array.isArray(got)) return got;
      rec.pairs = got;
      if (content.length < clen) return fail('TRUNCATED_CONTENT', bytes.length);
      if ((clen === 0 || type !== 4) && partial.has(key)) return fail('NV_TRUNCATED', o);
      if (partial.has(key) && [...partial.values()].reduce((n, p) => n + charge(p.bytes.length), 0) > budget) return fail('PARTIAL_PAIRS_TOO_LARGE', o);
    }
    if (content.length < clen) return fail('TRUNCATED_CONTENT', bytes.length);
    if (type === 4) {
      if (clen === 0) paramsBytes.delete(id);
      else {
        const total = (paramsBytes.get(id) ?? 0) + clen;
        if (total > maxParams) return fail('PARAMS_TOO_LARGE', o);
        paramsBytes.set(id, total);
      }
    }
    if (type === 1) {
      rec.begin = [(content[0]! << 8) | content[1]!, content[2]!];
      paramsBytes.delete(id);
    }
    if (type === 3) rec.end = [((content[0]! << 24) | (content[1]! << 16) | (content[2]! << 8) | content[3]!) >>> 0, content[4]!];
    if (type === 11) rec.unknownType = content[0]!;
    records.push(rec);
    if (bytes.length - (o + 8 + clen) < plen) return fail('TRUNCATED_PADDING', bytes.length);
    o += 8 + clen + plen;
  }
  return { records };
}

/** [header bytes, name length, value length] of the pair at buf[i], or null if its lengths are not all there. */
function readLengths(buf: number[], i: number): [number, number, number] | null {
  const one = (at: number): [number, number] | null => {
    if (at >= buf.length) return null;
    if (buf[at]! < 0x80) return [1, buf[at]!];
    if (at + 4 > buf.length) return null;
    return [4, ((buf[at]! & 0x7f) * 2 ** 24) + (buf[at + 1]! << 16) + (buf[at + 2]! << 8) + buf[at + 3]!];
  };
  const n = one(i);
  if (n === null) return null;
  const v = one(i + n[0]);
  if (v === null) return null;
  return [n[0] + v[0], n[1], v[1]];
}
