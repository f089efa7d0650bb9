// The 60 conformance vectors (test/fixtures/conformance-vectors.json), each decoded whole, split at
// every byte offset, one byte at a time and in 100 seeded random three-way splits: the delivered
// records, pairs, bodies and errors must be identical every time, and must be what the vector says.

import { describe, expect, it } from 'vitest';
import { vectors, type Vector } from '../fixtures/vectors.js';
import { decodeCut, fromHex, randomCuts, rng, toHex } from './harness.js';
import { referenceDecode, type RefResult } from './reference.js';
import { Decoder, decodePairs, decodeRecords, encodePairs, encodeRecord, Encoder, FastCGIProtocolError, RecordType } from '../../src/codec/index.js';

const latin1 = (bytes: number[]): string => String.fromCharCode(...bytes);
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** Every way of cutting `bytes` that the conformance README asks for, each compared with the whole. */
function allCuts(bytes: Uint8Array, seed: number): number[][] {
  const ways: number[][] = [];
  if (bytes.length < 4096) for (let k = 1; k < bytes.length; k++) ways.push([k]);
  ways.push(Array.from({ length: Math.max(0, bytes.length - 1) }, (_, i) => i + 1)); // one byte at a time
  const random = rng(seed);
  for (let i = 0; i < 100; i++) ways.push(randomCuts(bytes.length, 2, random));
  return ways;
}

function decodeEveryWay(bytes: Uint8Array, seed: number): RefResult {
  const whole = decodeCut(bytes, []);
  for (const cuts of allCuts(bytes, seed)) {
    const got = decodeCut(bytes, cuts);
    if (JSON.stringify(got) !== JSON.stringify(whole)) {
      expect({ cuts, got }, 'split decode differs from whole decode').toEqual({ cuts, got: whole });
    }
  }
  // and the reference decoder agrees
  expect(whole).toEqual(referenceDecode(bytes));
  return whole;
}

/** Byte-exact re-encoding where padding is canonical and reserved bytes are zero (README rule). */
function expectReencodes(bytes: Uint8Array): void {
  const records = decodeRecords(bytes);
  const enc = new Encoder();
  let canonical = true;
  const parts: Uint8Array[] = [];
  let o = 0;
  for (const r of records) {
    const header = bytes.subarray(o, o + 8);
    if (r.paddingLength !== ((8 - (r.content.length & 7)) & 7) || header[7] !== 0) canonical = false;
    if (r.type === RecordType.BEGIN_REQUEST && r.content.subarray(3).some((b) => b !== 0)) canonical = false;
    if (r.type === RecordType.END_REQUEST && r.content.subarray(5).some((b) => b !== 0)) canonical = false;
    parts.push(enc.record(r.type, r.requestId, r.content));
    o += 8 + r.content.length + r.paddingLength;
  }
  const again = Uint8Array.from(parts.flatMap((p) => [...p]));
  if (canonical) expect(toHex(again)).toBe(toHex(bytes));
  // always: the meaning survives
  const redecoded = decodeRecords(again);
  expect(redecoded.map((r) => [r.type, r.requestId, toHex(r.content)])).toEqual(records.map((r) => [r.type, r.requestId, toHex(r.content)]));
}

function checkRecordExpectations(v: Vector, got: RefResult): void {
  const e = v.expected;
  if (e.records) {
    expect(got.records.map((r) => ({ type: r.type, requestId: r.requestId, contentLength: r.content.length, paddingLength: r.paddingLength, contentHex: toHex(r.content) }))).toEqual(
      e.records.map((r: any) => ({ type: r.type, requestId: r.requestId, contentLength: r.contentLength, paddingLength: r.paddingLength, contentHex: r.contentHex })),
    );
    for (const r of e.records) expect(r.version).toBe(1);
  }
  if (e.begin) {
    const b = got.records[0]!.begin!;
    expect(b[0]).toBe(e.begin.role);
    expect((b[1] & 1) === 1).toBe(e.begin.keepConn);
    if (e.begin.flagsRaw !== undefined) expect(b[1]).toBe(e.begin.flagsRaw);
  }
  if (e.requestId !== undefined) expect(got.records[0]!.requestId).toBe(e.requestId);
  if (e.end) {
    const [app, status] = got.records[0]!.end!;
    if (e.end.appStatus !== undefined) expect(app).toBe(e.end.appStatus);
    if (e.end.appStatusU32 !== undefined) expect(app).toBe(e.end.appStatusU32);
    expect(status).toBe(e.end.protocolStatus);
  }
  if (e.unknownType !== undefined) expect(got.records[0]!.unknownType).toBe(e.unknownType);
  if (e.pairs) {
    const pairs = got.records.flatMap((r) => r.pairs ?? []);
    expect(pairs.map(([n, val]) => [latin1(n), latin1(val)])).toEqual(e.pairs);
  }
  if (e.streamEnd) {
    const lastRec = got.records[got.records.length - 1]!;
    expect(lastRec.type).toBe(RecordType[e.streamEnd as keyof typeof RecordType]);
    expect(lastRec.content.length).toBe(0);
  }
  if (e.recordsContentLengths) expect(got.records.map((r) => r.content.length)).toEqual(e.recordsContentLengths);
  if (e.paddings) expect(got.records.map((r) => r.paddingLength)).toEqual(e.paddings);
}

function errorOf(fn: () => unknown): FastCGIProtocolError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FastCGIProtocolError);
    return e as FastCGIProtocolError;
  }
  throw new Error('expected a FastCGIProtocolError');
}

/** The nv body wrapped in PARAMS records of id 1 cut at `k`, then the empty PARAMS. */
function paramsStream(body: Uint8Array, k: number): Uint8Array {
  const parts = [encodeRecord(RecordType.PARAMS, 1, body.subarray(0, k))];
  if (k < body.length) parts.push(encodeRecord(RecordType.PARAMS, 1, body.subarray(k)));
  parts.push(encodeRecord(RecordType.PARAMS, 1));
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

describe('conformance vectors', () => {
  it('has all 60 vectors', () => {
    expect(vectors).toHaveLength(60);
  });

  for (const [index, v] of vectors.entries()) {
    it(`${v.id} ${v.description}`, () => {
      const seed = 1000 + index;
      if (v.kind === 'nv') {
        const body = fromHex(v.input_hex!);
        const e = v.expected;
        if (e.error) {
          const err = errorOf(() => decodePairs(body));
          expect(err.code).toBe(e.error);
          // Fed as a PARAMS stream, cut anywhere: the same failure (PAIR_TOO_LONG when the declared
          // length is over the 1 MiB pair limit), never a hang or a crash.
          for (let k = 1; k < body.length; k++) {
            const got = decodeCut(paramsStream(body, k), []);
            expect(got.error?.code).toMatch(/^(NV_TRUNCATED|PAIR_TOO_LONG)$/);
            expect(got).toEqual(referenceDecode(paramsStream(body, k)));
          }
          return;
        }
        const pairs = decodePairs(body);
        if (e.pairs) expect(pairs).toEqual(e.pairs);
        if (e.pairsHex) expect(pairs.map(([n, val]) => [toHex(ascii(n)), toHex(ascii(val))])).toEqual(e.pairsHex);
        // a pair split across PARAMS records at every byte decodes the same
        for (let k = 0; k <= body.length; k++) {
          const got = decodeEveryWayLight(paramsStream(body, k));
          expect(got.records.flatMap((r) => r.pairs ?? []).map(([n, val]) => [latin1(n), latin1(val)])).toEqual(pairs);
        }
        // and re-encodes to the same bytes when its lengths were minimal
        if (v.id !== 'N05') expect(toHex(encodePairs(pairs))).toBe(v.input_hex);
        return;
      }

      if (v.kind === 'exchange') {
        const toApp = decodeEveryWay(fromHex(v.client_to_app_hex!), seed);
        const toClient = decodeEveryWay(fromHex(v.app_to_client_hex!), seed + 500);
        expect(toApp.error).toBeUndefined();
        expect(toClient.error).toBeUndefined();
        checkExchange(v, toApp, toClient);
        return;
      }

      const bytes = fromHex(v.input_hex!);
      if (v.id === 'L05') {
        // the full sweep the vector describes: STDOUT "x" with every padding length 0..255
        const sweep = Uint8Array.from(
          Array.from({ length: 256 }, (_, p) => [1, 6, 0, 1, 0, 1, p, 0, 0x78, ...new Array(p).fill(0)]).flat(),
        );
        expect(toHex(sweep.subarray(0, bytes.length))).toBe(v.input_hex);
        const got = decodeEveryWay(sweep, seed);
        expect(got.records).toHaveLength(256);
        got.records.forEach((r, p) => expect([r.content, r.paddingLength]).toEqual([[0x78], p]));
        return;
      }
      const got = decodeEveryWay(bytes, seed);
      const e = v.expected;
      if (e.error) {
        expect(got.error?.code).toBe(e.error);
        expect(got.error?.offset).toBe(0);
        expect(got.records).toEqual([]);
        return;
      }
      if (e.needMore) {
        // nothing fails until the end of the stream is signalled; a record is delivered once its
        // content is complete, so only a truncated padding (F05) leaves one delivered
        expect(got.records).toHaveLength(e.errorAtEof === 'TRUNCATED_PADDING' ? 1 : 0);
        expect(got.error).toEqual({ code: e.errorAtEof, offset: bytes.length });
        const d = new Decoder({});
        d.push(bytes);
        expect(d.error).toBeNull();
        return;
      }
      expect(got.error).toBeUndefined();
      checkRecordExpectations(v, got);
      expectReencodes(bytes);
      if (v.kind === 'writer') checkWriter(v, got);
    });
  }
});

/** Cheaper variant for the many PARAMS wrappings: whole, byte by byte, and 10 random cuts. */
function decodeEveryWayLight(bytes: Uint8Array): RefResult {
  const whole = decodeCut(bytes, []);
  const random = rng(bytes.length);
  const ways = [Array.from({ length: bytes.length - 1 }, (_, i) => i + 1), ...Array.from({ length: 10 }, () => randomCuts(bytes.length, 2, random))];
  for (const cuts of ways) expect(decodeCut(bytes, cuts)).toEqual(whole);
  expect(whole.error).toBeUndefined();
  return whole;
}

/** Writer vectors: our Encoder produces exactly these bytes. */
function checkWriter(v: Vector, got: RefResult): void {
  const enc = new Encoder();
  if (v.id === 'W01') {
    const data = Uint8Array.from(got.records.flatMap((r) => r.content));
    const framed = Uint8Array.from(enc.stream(RecordType.STDOUT, 1, data, true).flatMap((p) => [...p]));
    expect(toHex(framed)).toBe(v.input_hex);
  }
  if (v.id === 'W02') {
    const framed = got.records.flatMap((r) => [...enc.record(RecordType.STDOUT, 1, Uint8Array.from(r.content))]);
    expect(toHex(framed)).toBe(v.input_hex);
  }
}

const bodyOf = (r: RefResult, type: number, id?: number): string =>
  latin1(r.records.filter((x) => x.type === type && (id === undefined || x.requestId === id)).flatMap((x) => x.content));

/** What a codec can check of an exchange; status lines and CGI headers belong to the protocol layers. */
function checkExchange(v: Vector, toApp: RefResult, toClient: RefResult): void {
  const e = v.expected;
  const end = toClient.records.find((r) => r.type === RecordType.END_REQUEST);
  if (e.body !== undefined) expect(bodyOf(toClient, RecordType.STDOUT)).toContain(e.body);
  if (e.stderr !== undefined) expect(bodyOf(toClient, RecordType.STDERR)).toBe(e.stderr);
  if (e.appStatus !== undefined) expect(end!.end![0]).toBe(e.appStatus);
  if (e.protocolStatus !== undefined) expect(end!.end![1]).toBe(e.protocolStatus);
  if (e.stdinLength !== undefined) expect(bodyOf(toApp, RecordType.STDIN, 1).length).toBe(e.stdinLength);
  if (e.stdin !== undefined) expect(bodyOf(toApp, RecordType.STDIN, 1)).toBe(e.stdin);
  if (e.data !== undefined) expect(bodyOf(toApp, RecordType.DATA, 1)).toBe(e.data);
  if (e.unknownType !== undefined) expect(toClient.records[0]!.unknownType).toBe(e.unknownType);
  if (e.resultPairs) {
    expect(toClient.records[0]!.pairs!.map(([n, val]) => [latin1(n), latin1(val)])).toEqual(e.resultPairs);
  }
  if (e.order) {
    expect(toClient.records.filter((r) => r.type === RecordType.END_REQUEST).map((r) => r.requestId)).toEqual(e.order);
  }
  if (e.id2ProtocolStatus !== undefined) {
    expect(toClient.records.find((r) => r.type === RecordType.END_REQUEST && r.requestId === 2)!.end![1]).toBe(e.id2ProtocolStatus);
  }
  if (e.responses !== undefined) {
    expect(toApp.records.filter((r) => r.type === RecordType.BEGIN_REQUEST)).toHaveLength(e.responses);
    expect(toClient.records.filter((r) => r.type === RecordType.END_REQUEST)).toHaveLength(e.responses);
  }
  // every BEGIN on the app side has its role
  for (const r of toApp.records.filter((x) => x.type === RecordType.BEGIN_REQUEST)) expect(r.begin![0]).toBeGreaterThan(0);
}
