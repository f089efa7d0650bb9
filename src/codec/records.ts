// Whole-buffer conveniences for tools and tests, on top of Decoder and Encoder.

import { Decoder, type DecoderOptions } from './decoder.js';
import { Encoder, type Pairs } from './encoder.js';
import { codec } from './wasm.js';
import { decodeError, FastCGIProtocolError } from './errors.js';
import { PairList } from './pairs.js';
import { Ev, VERSION_1 } from './constants.js';

export interface FcgiRecord {
  version: number;
  type: number;
  requestId: number;
  content: Uint8Array;
  paddingLength: number;
}

/** Every record in `bytes`; throws FastCGIProtocolError on bad or truncated input. */
export function decodeRecords(bytes: Uint8Array, options?: DecoderOptions): FcgiRecord[] {
  const out: FcgiRecord[] = [];
  const d = new Decoder(
    {
      record(type, requestId, content, paddingLength) {
        out.push({ version: VERSION_1, type, requestId, content, paddingLength });
      },
    },
    options,
  );
  d.push(bytes);
  d.end();
  return out;
}

/** The pairs of one name-value body (spec 3.4) as a PairList; throws NV_TRUNCATED if it ends inside a pair. */
export function decodePairList(bytes: Uint8Array): PairList {
  const c = codec();
  c.beforeDecode();
  c.acquire(null); // the pairs body gets a fresh state of its own
  c.x.reset(0xffffffff);
  const list = new PairList();
  const window = 65536;
  for (let start = 0; start < bytes.length || start === 0; start += window) {
    const n = Math.min(bytes.length - start, window);
    c.beforeDecode();
    c.u8.set(bytes.subarray(start, start + n), c.INPUT);
    const err = c.x.pairs(start, n);
    const count = c.x.events();
    const ev = c.u32.subarray(c.EVENTS >>> 2, (c.EVENTS >>> 2) + count * 4);
    for (let i = 0; i < ev.length; i += 4) {
      const kind = ev[i]! & 0xff;
      if (kind === Ev.PAIR) list.add(bytes, ev[i + 1]!, ev[i + 2]!, ev[i + 3]!);
      else if (kind === Ev.PAIR_CARRIED) list.add(c.u8.slice(ev[i + 1]!, ev[i + 1]! + ev[i + 2]! + ev[i + 3]!), 0, ev[i + 2]!, ev[i + 3]!);
    }
    if (err !== 0) throw decodeError(err, c.errorOffset());
    if (n === 0) break;
  }
  if (c.x.pairsEnd() !== 0) {
    c.x.reset(0);
    throw decodeError(6, bytes.length, 'the body ended inside a pair');
  }
  c.x.reset(0);
  return list;
}

/** The pairs of one name-value body as [name, value] strings (Latin-1). */
export function decodePairs(bytes: Uint8Array): [string, string][] {
  return decodePairList(bytes).toArray();
}

let sharedEncoder: Encoder | null = null;
const encoder = (): Encoder => (sharedEncoder ??= new Encoder());

/** One record with canonical padding. */
export function encodeRecord(type: number, requestId: number, content?: Uint8Array): Uint8Array {
  return encoder().record(type, requestId, content);
}

/** A name-value body (the content of PARAMS / GET_VALUES records), no record framing. */
export function encodePairs(pairs: Pairs): Uint8Array {
  return encoder().pairsBody(pairs);
}

export { FastCGIProtocolError };
