// The Encoder: byte-exact against the vectors' bytes, pairs never split across PARAMS records, large
// payloads framed as slices of the caller's own buffer.

import { describe, expect, it } from 'vitest';
import { vectors } from '../fixtures/vectors.js';
import { Encoder, FastCGIError, RecordType, Role, Flags, ProtocolStatus, decodePairs, decodeRecords, encodePairs, encodeRecord } from '../../src/codec/index.js';
import { concat } from './bytes.js';
import { toHex } from './harness.js';

const enc = new Encoder();

const hexOf = (id: string): string => vectors.find((v) => v.id === id)!.input_hex!;

describe('Encoder', () => {
  it('writes BEGIN_REQUEST, END_REQUEST, UNKNOWN_TYPE and ABORT exactly as the spec examples', () => {
    expect(toHex(enc.beginRequest(1, Role.RESPONDER))).toBe(hexOf('R01'));
    expect(toHex(enc.beginRequest(0xffff, Role.AUTHORIZER, Flags.KEEP_CONN))).toBe(hexOf('R02'));
    expect(toHex(enc.endRequest(1, 938, ProtocolStatus.REQUEST_COMPLETE))).toBe(hexOf('R05'));
    expect(toHex(enc.endRequest(1, 0xffffffff, ProtocolStatus.UNKNOWN_ROLE))).toBe(hexOf('R06'));
    expect(toHex(enc.endRequest(2, 0, ProtocolStatus.CANT_MPX_CONN))).toBe(hexOf('R07'));
    expect(toHex(enc.unknownType(12))).toBe(hexOf('R15'));
    expect(toHex(enc.abortRequest(1))).toBe(hexOf('R04'));
  });

  it('writes GET_VALUES and GET_VALUES_RESULT as fcgi2 does', () => {
    expect(toHex(enc.getValues(['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS']))).toBe(hexOf('R13'));
    expect(toHex(enc.getValuesResult({ FCGI_MAX_CONNS: '1', FCGI_MAX_REQS: '1', FCGI_MPXS_CONNS: '0' }))).toBe(hexOf('R14'));
    const x08 = vectors.find((v) => v.id === 'X08')!.app_to_client_hex!;
    expect(toHex(enc.getValuesResult([['FCGI_MAX_CONNS', '1'], ['FCGI_MPXS_CONNS', '0']]))).toBe(x08);
  });

  it('writes the spec example PARAMS record and the empty one that ends the stream', () => {
    const bytes = enc.pairs(1, { SERVER_PORT: '80', SERVER_ADDR: '199.170.183.42' });
    expect(toHex(bytes)).toBe(hexOf('R09') + '0104000100000000');
  });

  it('never splits a pair across PARAMS records (php-fpm parses each record alone)', () => {
    const pairs: [string, string][] = Array.from({ length: 400 }, (_, i) => [`HTTP_X_${i}`, 'v'.repeat((i * 97) % 900)]);
    const bytes = enc.pairs(3, pairs);
    const records = decodeRecords(bytes);
    expect(records.length).toBeGreaterThan(3);
    expect(records[records.length - 1]!.content.length).toBe(0);
    const again: [string, string][] = [];
    for (const r of records) {
      expect(r.type).toBe(RecordType.PARAMS);
      expect(r.content.length).toBeLessThanOrEqual(65535);
      expect(r.paddingLength).toBe((8 - (r.content.length & 7)) & 7);
      again.push(...decodePairs(r.content)); // each record holds whole pairs
    }
    expect(again).toEqual(pairs);
  });

  it('splits a single pair only when it cannot fit one record', () => {
    const value = 'z'.repeat(200_000);
    const records = decodeRecords(enc.pairs(1, [['A', 'b'], ['HUGE', value], ['C', 'd']]));
    const body = concat(records.map((r) => r.content));
    expect(decodePairs(body)).toEqual([['A', 'b'], ['HUGE', value], ['C', 'd']]);
    expect(records.every((r) => r.content.length <= 65535)).toBe(true);
  });

  it('encodes Latin-1 strings byte for byte, wider strings as UTF-8, and bytes as given', () => {
    const body = encodePairs([['A', '\u00e9'], ['B', '\u20ac'], ['C', Uint8Array.from([0, 1, 255])]]);
    expect(toHex(body)).toBe('0101' + '41' + 'e9' + '0103' + '42' + 'e282ac' + '0103' + '43' + '0001ff');
  });

  it('frames a large payload as headers around slices of the caller buffer (no copy)', () => {
    const data = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7) & 255);
    const parts = enc.stream(RecordType.STDOUT, 2, data, true);
    const views = parts.filter((p) => p.buffer === data.buffer);
    expect(views.map((v) => v.length)).toEqual([65528, 65528, 65528, 200_000 - 3 * 65528]);
    const records = decodeRecords(concat(parts));
    expect(records.map((r) => r.content.length)).toEqual([65528, 65528, 65528, 3416, 0]);
    expect(concat(records.map((r) => r.content))).toEqual(data);
  });

  it('frames a small payload into one buffer, with or without the end record', () => {
    const one = enc.stream(RecordType.STDERR, 1, new Uint8Array([104, 105]));
    expect(one).toHaveLength(1);
    expect(toHex(one[0]!)).toBe('010700010002060068690000000000' + '00');
    expect(toHex(enc.stream(RecordType.STDIN, 1, new Uint8Array(0), true)[0]!)).toBe('0105000100000000');
  });

  it('writes the end of a request (last STDOUT bytes, terminators, END_REQUEST) as one buffer when small', () => {
    const small = enc.endOfRequest(3, 7, ProtocolStatus.REQUEST_COMPLETE, new TextEncoder().encode('hi'), true);
    expect(small).toHaveLength(1);
    const records = decodeRecords(small[0]!);
    expect(records.map((r) => [r.type, r.requestId, r.content.length])).toEqual([
      [RecordType.STDOUT, 3, 2], [RecordType.STDOUT, 3, 0], [RecordType.STDERR, 3, 0], [RecordType.END_REQUEST, 3, 8],
    ]);
    expect(toHex(small[0]!)).toBe(toHex(concat([...enc.stream(RecordType.STDOUT, 3, new TextEncoder().encode('hi'), true), enc.record(RecordType.STDERR, 3), enc.endRequest(3, 7)])));
    // nothing left to write and no stderr: the STDOUT end and END_REQUEST only
    expect(toHex(enc.endOfRequest(1, 0, ProtocolStatus.REQUEST_COMPLETE)[0]!)).toBe('0106000100000000' + '0103000100080000' + '0000000000000000');
    // a large tail stays slices of the caller's buffer, the terminators and END_REQUEST after them
    const data = new Uint8Array(100_000).fill(7);
    const large = enc.endOfRequest(2, 0, ProtocolStatus.REQUEST_COMPLETE, data);
    expect(large.some((p) => p.buffer === data.buffer)).toBe(true);
    const decoded = decodeRecords(concat(large));
    expect(decoded.map((r) => r.type)).toEqual([RecordType.STDOUT, RecordType.STDOUT, RecordType.STDOUT, RecordType.END_REQUEST]);
    expect(concat(decoded.slice(0, 2).map((r) => r.content))).toEqual(data);
  });

  it('opens a request (BEGIN, PARAMS and a body in hand) with the same bytes as its records written one by one', () => {
    const params = { SCRIPT_FILENAME: '/srv/index.php', REQUEST_METHOD: 'POST', HTTP_HOST: 'example.test', X: 'y'.repeat(70_000) };
    for (const body of [undefined, new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(100_000).map((_, i) => i & 0xff)]) {
      const parts = enc.requestStart(7, Role.RESPONDER, Flags.KEEP_CONN, params, body);
      const apart = [enc.beginRequest(7, Role.RESPONDER, Flags.KEEP_CONN), enc.pairs(7, params), ...(body ? enc.stream(RecordType.STDIN, 7, body, true) : [])];
      expect(toHex(concat(parts))).toBe(toHex(concat(apart)));
    }
    // a GET: one buffer, one write
    expect(enc.requestStart(1, Role.RESPONDER, 0, { REQUEST_METHOD: 'GET' }, new Uint8Array(0))).toHaveLength(1);
  });

  it('pooled (for a socket), hands out small records from shared memory without two of them ever overlapping', () => {
    const pooled = new Encoder({ pooled: true });
    const records = Array.from({ length: 5000 }, (_, i) => pooled.record(RecordType.STDOUT, 1 + (i % 100), new Uint8Array([i & 0xff])));
    records.forEach((r, i) => expect([r.length, r[8]]).toEqual([16, i & 0xff])); // header, its byte, padding
    // give every record its own fill, then check that no later fill reached an earlier record
    records.forEach((r, i) => r.fill(i % 251));
    records.forEach((r, i) => expect(r.every((b) => b === i % 251)).toBe(true));
    expect(new Set(records.map((r) => r.buffer)).size).toBeLessThan(records.length / 100); // they share slabs
    // by default, what a caller gets owns its buffer (its .buffer is its bytes; transferring it detaches nothing else)
    const own = [enc.record(RecordType.STDOUT, 1, new Uint8Array([1])), enc.beginRequest(1, Role.RESPONDER), ...enc.requestStart(1, Role.RESPONDER, 0, { A: 'b' })];
    for (const r of own) expect([r.byteOffset, r.buffer.byteLength]).toEqual([0, r.length]);
  });

  it('pads a record as asked (0-255 bytes) and writes short lengths in the four-byte form on request, as the vectors show', () => {
    expect(toHex(enc.record(RecordType.STDOUT, 1, new Uint8Array(0), 255))).toBe(hexOf('L01'));
    expect(toHex(enc.record(RecordType.STDIN, 1, new Uint8Array(65535).fill(0x62), 255))).toBe(hexOf('L03'));
    expect(toHex(enc.record(RecordType.STDOUT, 1, new Uint8Array([0x78]), 0))).toBe('0106000100010000' + '78');
    expect(toHex(enc.pairsBody([['X', 'Y']], { fourByteLengths: true }))).toBe('80000001' + '80000001' + '5859');
    expect(toHex(enc.pairsBody([['X', 'Y']]))).toBe('0101' + '5859');
    expect(() => enc.record(RecordType.STDOUT, 1, undefined, 256)).toThrow(/padding must be an integer from 0 to 255/);
  });

  it('refuses what no record can carry, with typed errors', () => {
    expect(() => enc.record(RecordType.STDOUT, 1, new Uint8Array(65536))).toThrow(FastCGIError);
    expect(() => encodeRecord(RecordType.STDOUT, 70000)).toThrow(/request id must be an integer from 0 to 65535/);
    expect(() => encodeRecord(0, 1)).toThrow(/record type must be an integer from 1 to 255/);
    expect(() => enc.beginRequest(0, Role.RESPONDER)).toThrow(/nonzero request id/);
  });
});

