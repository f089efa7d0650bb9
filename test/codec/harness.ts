// Feeds bytes to the wasm Decoder cut at given offsets and records what it delivers in the reference
// decoder's shape, so that every way of cutting a stream can be compared with every other. A record's
// content is what its fragments say, joined here; the harness also holds every fragment to its
// contract (a view of the chunk being pushed, START first, END last, STREAM_END for an empty stream
// record) and checks that record() (a second decoder) gives the same records as the fragments.

import { Decoder, FastCGIProtocolError, Fragment, type DecoderOptions } from '../../src/codec/index.js';
import type { RefRecord, RefResult } from './reference.js';

const STREAM_TYPES = new Set([4, 5, 6, 7, 8]);

export function decodeCut(bytes: Uint8Array, cuts: number[], options?: DecoderOptions): RefResult {
  const records: RefRecord[] = [];
  const last = (): RefRecord => records[records.length - 1]!;
  let chunk = new Uint8Array(0);
  let pieces: number[][] | null = null; // the fragments of the record in progress
  const broken = (what: string): never => {
    throw new Error(`fragment contract: ${what}`);
  };
  const d = new Decoder(
    {
      fragment(type, requestId, part, flags) {
        if (part.buffer !== chunk.buffer || part.byteOffset < chunk.byteOffset || part.byteOffset + part.length > chunk.byteOffset + chunk.length) {
          broken('not a view of the chunk being pushed');
        }
        if ((flags & Fragment.START) !== 0) {
          if (pieces !== null) broken('START inside a record');
          pieces = [];
        } else if (pieces === null) broken('no START before this fragment');
        const whole = (flags & (Fragment.START | Fragment.END)) === (Fragment.START | Fragment.END);
        if (part.length === 0 && !whole) broken('an empty fragment of a non-empty record');
        if (((flags & Fragment.STREAM_END) !== 0) !== (whole && part.length === 0 && STREAM_TYPES.has(type))) broken(`STREAM_END on a type ${type} fragment of ${part.length} bytes`);
        pieces!.push([...part]);
        if ((flags & Fragment.END) === 0) return;
        records.push({ type, requestId, content: pieces!.flat(), paddingLength: (flags >>> 8) & 0xff });
        pieces = null;
      },
      pairs(_type, _id, list) {
        const pairs: [number[], number[]][] = [];
        for (let i = 0; i < list.length; i++) {
          const name = [...list.nameBytes(i)];
          const value = [...list.valueBytes(i)];
          // the lazy strings (cut from one string per buffer where they can be) say the same bytes
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
  // the same bytes through record() alone (records joined from fragments) must give the same records
  const whole: RefRecord[] = [];
  const joined = new Decoder({ record: (type, requestId, content, paddingLength) => whole.push({ type, requestId, content: [...content], paddingLength }) }, options);
  let result: RefResult;
  try {
    let from = 0;
    for (const cut of [...cuts, bytes.length]) {
      // copy each piece, as a socket would hand over fresh buffers
      chunk = bytes.slice(from, cut);
      d.push(chunk);
      from = cut;
    }
    d.end();
    result = { records };
  } catch (e) {
    if (!(e instanceof FastCGIProtocolError)) throw e;
    result = { records, error: { code: e.code, offset: e.offset } };
  }
  try {
    let from = 0;
    for (const cut of [...cuts, bytes.length]) {
      joined.push(bytes.slice(from, cut));
      from = cut;
    }
    joined.end();
  } catch (e) {
    if (!(e instanceof FastCGIProtocolError)) throw e;
  }
  const plain = records.map(({ type, requestId, content, paddingLength }) => ({ type, requestId, content, paddingLength }));
  if (JSON.stringify(whole) !== JSON.stringify(plain)) broken('record() gives other records than the fragments');
  return result;
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
