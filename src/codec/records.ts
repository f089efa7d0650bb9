// Whole-buffer conveniences for tools and tests, on top of Decoder and Encoder.

import { Decoder, type DecoderOptions } from './decoder.js';
import { Encoder, type Pairs } from './encoder.js';
import { codec } from './wasm.js';
import { decodeError, FastCGIProtocolError } from './errors.js';
import { PairList } from './pairs.js';
import { VERSION_1 } from './constants.js';
import { Err, Ev, Globals, State } from './contract.generated.js';

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
  const x = c.x;
  // a state of its own, with no pair limit and no budget: the body is in hand, nothing is held for long
  const state = x.newDecoder(0xffffffff, 0xffffffff);
  if (state === 0) throw decodeError(Err.OUT_OF_MEMORY, 0, 'no memory to decode a pair body');
  try {
    const list = new PairList();
    const window = 65536;
    for (let start = 0; start < bytes.length || start === 0; start += window) {
      const n = Math.min(bytes.length - start, window);
      c.u8.set(bytes.subarray(start, start + n), c.INPUT);
      const err = x.pairs(state, start, n);
      const words = c.global(Globals.EVENTS) * 4;
      const ev = c.u32.slice(c.EVENTS >>> 2, (c.EVENTS >>> 2) + words);
      let carried: Uint8Array[] | null = null;
      if (c.global(Globals.DONE) > 0) {
        carried = c.copyCarried(ev, words);
        x.releaseCarried(state);
      }
      for (let i = 0; i < words; i += 4) {
        const kind = ev[i]! & 0xff;
        if (kind === Ev.PAIR) list.add(bytes, ev[i + 1]!, ev[i + 2]!, ev[i + 3]!);
        else if (kind === Ev.PAIR_CARRIED) list.add(carried![ev[i + 1]!]!, 0, ev[i + 2]!, ev[i + 3]!);
      }
      if (err !== 0) throw decodeError(err, c.f64(state + State.ERR_AT));
      if (n === 0) break;
    }
    if (x.pairsEnd(state) !== 0) throw decodeError(Err.NV_TRUNCATED, bytes.length, 'the body ended inside a pair');
    return list;
  } finally {
    x.freeDecoder(state);
  }
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
