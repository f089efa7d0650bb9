// Feeds bytes to the wasm Decoder cut at given offsets and records what it delivers in the reference
// decoder's shape, so that every way of cutting a stream can be compared with every other.

import { Decoder, FastCGIProtocolError, type DecoderOptions } from '../../src/codec/index.js';
import type { RefRecord, RefResult } from './reference.js';

export function decodeCut(bytes: Uint8Array, cuts: number[], options?: DecoderOptions): RefResult {
  const records: RefRecord[] = [];
  const last = (): RefRecord => records[records.length - 1]!;
  const d = new Decoder(
    {
      record(type, requestId, content, paddingLength) {
        records.push({ type, requestId, content: [...content], paddingLength });
      },
      pairs(_type, _id, list) {
        const pairs: [number[], number[]][] = [];
        for (let i = 0; i < list.length; i++) {
          const name = [...list.nameBytes(i)];
          const value = [...list.valueBytes(i)];
          // the lazy strings (cut from one string per record where they can be) say the same bytes
          if (list.name(i) !== String.fromCharCode(...name) || list.value(i) !== String.fromCharCode(...value)) {
            throw new Error(`pair ${i}: its strings differ from its bytes`);
          }
          pairs.push([name, value]);
        }
        last().pairs = pairs;
      },
      begin(_id, role, flags) {
        last().begin = [role, flags];
      },
      end(_id, appStatus, protocolStatus) {
        last().end = [appStatus, protocolStatus];
      },
      unknownType(type) {
        last().unknownType = type;
      },
    },
    options,
  );
  try {
    let from = 0;
    for (const cut of [...cuts, bytes.length]) {
      // copy each piece, as a socket would hand over fresh buffers
      d.push(bytes.slice(from, cut));
      from = cut;
    }
    d.end();
    return { records };
  } catch (e) {
    if (!(e instanceof FastCGIProtocolError)) throw e;
    return { records, error: { code: e.code, offset: e.offset } };
  }
}

/** A small seeded generator (mulberry32), so every failure names the seed that reproduces it. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** k sorted cut offsets inside [0, len] from a seeded generator. */
export function randomCuts(len: number, k: number, random: () => number): number[] {
  const cuts: number[] = [];
  for (let i = 0; i < k; i++) cuts.push(Math.floor(random() * (len + 1)));
  return cuts.sort((a, b) => a - b);
}

export const fromHex = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
export const toHex = (bytes: ArrayLike<number>): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
