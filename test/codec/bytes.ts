import { Encoder, RecordType } from '../../src/codec/index.js';

/** Concatenates byte arrays (test helper). */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A pairs body cut into PARAMS records of at most `size` content bytes, pairs straddling freely. */
export function splitParams(id: number, pairs: Record<string, string>, size: number): Uint8Array[] {
  const enc = new Encoder();
  const body = enc.pairsBody(pairs);
  const out: Uint8Array[] = [];
  for (let o = 0; o < body.length; o += size) out.push(enc.record(RecordType.PARAMS, id, body.subarray(o, o + size)));
  return out;
}
