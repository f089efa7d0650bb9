// The Decoder's contract beyond the vectors: fragments (zero-copy views), whole records, many decoders
// sharing one wasm instance, handlers that push, memory growth, limits, sticky errors, lazy pair strings.

import { describe, expect, it } from 'vitest';
import { Decoder, Encoder, FastCGIProtocolError, Fragment, RecordType, Role, decodeRecords, latin1, type DecoderHandler } from '../../src/codec/index.js';
import { concat, splitParams } from './bytes.js';
import { codec } from '../../src/codec/wasm.js';

const enc = new Encoder();

function collect(): { handler: DecoderHandler; log: string[] } {
  const log: string[] = [];
  return {
    log,
    handler: {
      record: (t, id, c, p) => log.push(`rec ${t}/${id} ${c.length}+${p}`),
      pairs: (t, id, list) => log.push(`pairs ${t}/${id} ${JSON.stringify(list.toArray())}`),
      begin: (id, role, flags) => log.push(`begin ${id} ${role} ${flags}`),
      end: (id, app, st) => log.push(`end ${id} ${app} ${st}`),
      unknownType: (t) => log.push(`unknown ${t}`),
    },
  };
}

describe('Decoder', () => {
  it('hands a record that lies inside one chunk on as a view of that chunk', () => {
    const chunk = enc.stream(RecordType.STDOUT, 1, new Uint8Array(100).fill(7))[0]!;
    let seen: Uint8Array | null = null;
    new Decoder({ record: (_t, _id, content) => (seen = content) }).push(chunk);
    expect(seen!.buffer).toBe(chunk.buffer);
    expect(seen!.byteOffset).toBe(chunk.byteOffset + 8);
    expect([...seen!]).toEqual(new Array(100).fill(7));
  });

  it('joins a record split across chunks into a fresh copy for record()', () => {
    const data = Uint8Array.from({ length: 70000 }, (_, i) => i & 255);
    const bytes = concat(enc.stream(RecordType.STDIN, 3, data, true));
    const got: Uint8Array[] = [];
    const d = new Decoder({ record: (_t, _id, c) => got.push(c) });
    for (let o = 0; o < bytes.length; o += 1460) d.push(bytes.slice(o, o + 1460));
    d.end();
    expect(got.map((c) => c.length)).toEqual([65528, 70000 - 65528, 0]);
    expect(concat(got)).toEqual(data);
  });

  it('keeps each connection apart when many decoders share the realm instance', () => {
    // three streams, each with pairs straddling records and chunks, pushed interleaved byte-wise
    const streams = [1, 2, 3].map((n) =>
      concat([
        enc.beginRequest(n, Role.RESPONDER),
        // a long value split over several PARAMS records
        ...splitParams(n, { [`NAME_${n}`]: 'v'.repeat(300 * n), SHORT: String(n) }, 7),
        enc.record(RecordType.PARAMS, n),
        ...enc.stream(RecordType.STDIN, n, new Uint8Array(50 * n).fill(n), true),
      ]),
    );
    const logs = streams.map(() => collect());
    const decoders = logs.map((l) => new Decoder(l.handler));
    const max = Math.max(...streams.map((s) => s.length));
    for (let o = 0; o < max; o += 5) streams.forEach((s, i) => o < s.length && decoders[i]!.push(s.slice(o, o + 5)));
    decoders.forEach((d) => d.end());
    streams.forEach((s, i) => {
      const alone = collect();
      const d = new Decoder(alone.handler);
      d.push(s);
      d.end();
      expect(logs[i]!.log).toEqual(alone.log);
      expect(alone.log.join('\n')).toContain(`"NAME_${i + 1}","${'v'.repeat(300 * (i + 1))}"`);
    });
  });

  it('lets go of its state on dispose(): later pushes throw, other decoders decode on unharmed', () => {
    const stream = concat([enc.beginRequest(1, Role.RESPONDER), ...splitParams(1, { A: 'x'.repeat(500) }, 9), enc.record(RecordType.PARAMS, 1)]);
    const other = collect();
    const b = new Decoder(other.handler);
    b.push(stream.subarray(0, 40)); // stops inside a pair
    const a = new Decoder(collect().handler);
    a.push(stream.subarray(0, 40)); // b's state saved; a's is the one in wasm memory now
    a.dispose();
    expect(() => a.push(stream.subarray(40))).toThrow(TypeError);
    b.push(stream.subarray(40));
    b.end();
    expect(other.log.join('\n')).toContain(`"A","${'x'.repeat(500)}"`);
  });

  it('stops a dispatch in progress when a handler disposes of its decoder', () => {
    const seen: number[] = [];
    const d: Decoder = new Decoder({
      record: (t) => {
        seen.push(t);
        if (t === RecordType.BEGIN_REQUEST) d.dispose();
      },
    });
    d.push(concat([enc.beginRequest(1, Role.RESPONDER), enc.record(RecordType.PARAMS, 1), enc.record(RecordType.STDIN, 1)]));
    expect(seen).toEqual([RecordType.BEGIN_REQUEST]);
    expect(() => d.push(enc.record(RecordType.STDIN, 1))).toThrow(TypeError);
  });

  it('lets a handler push into another decoder, and into itself (queued)', () => {
    const inner = collect();
    const innerDecoder = new Decoder(inner.handler);
    const innerBytes = concat([enc.beginRequest(9, Role.FILTER), enc.pairs(9, { A: 'x'.repeat(200) })]);
    const outerLog: string[] = [];
    let selfPushed = false;
    const outer: Decoder = new Decoder({
      record(t, id, c) {
        outerLog.push(`rec ${t}/${id} ${c.length}`);
        // push into another decoder mid-dispatch, a byte at a time (state swaps every call)
        for (let i = 0; i < innerBytes.length; i++) innerDecoder.push(innerBytes.slice(i, i + 1));
        if (!selfPushed) {
          selfPushed = true;
          outer.push(enc.record(RecordType.STDOUT, 2, new Uint8Array([1])));
          outerLog.push('pushed');
        }
      },
    });
    outer.push(concat([enc.record(RecordType.STDOUT, 1, new Uint8Array(3)), enc.record(RecordType.STDOUT, 1, new Uint8Array(4))]));
    expect(outerLog).toEqual(['rec 6/1 3', 'pushed', 'rec 6/1 4', 'rec 6/2 1']);
    // the inner stream was pushed whole three times: BEGIN, PARAMS with the pair, the empty PARAMS
    const once = [
      'rec 1/9 8+0', 'begin 9 3 0', 'rec 4/9 206+2', `pairs 4/9 [["A","${'x'.repeat(200)}"]]`, 'rec 4/9 0+0', 'pairs 4/9 []',
    ];
    expect(inner.log).toEqual([...once, ...once, ...once]);
  });

  it('grows its memory for a long pair carried across many records, and stays correct after', () => {
    const value = 'q'.repeat(3 << 20); // 3 MiB: more than the initial arena
    const bytes = concat([enc.beginRequest(1, Role.RESPONDER), ...splitParams(1, { BIG: value }, 65535), enc.record(RecordType.PARAMS, 1)]);
    let got = '';
    const d = new Decoder({ pairs: (_t, _id, list) => list.length && (got = list.value(0)) }, { maxPairBytes: 4 << 20, maxParamsBytes: 4 << 20 });
    for (let o = 0; o < bytes.length; o += 100_000) d.push(bytes.slice(o, o + 100_000));
    d.end();
    expect(got.length).toBe(value.length);
    expect(got === value).toBe(true);
    // the realm instance is still fine for everyone else
    expect(decodeRecords(enc.record(RecordType.STDERR, 4, new Uint8Array([65])))[0]!.content).toEqual(new Uint8Array([65]));
  });

  it('keeps its events when a handler grows wasm memory mid-dispatch', () => {
    const bytes = concat([enc.record(RecordType.STDOUT, 1, new Uint8Array([1])), enc.pairs(2, { A: 'b', C: 'd' }), enc.record(RecordType.STDOUT, 3, new Uint8Array([3]))]);
    const { handler, log } = collect();
    let grown = false;
    const d = new Decoder({
      ...handler,
      record(t, id, c, p, at) {
        handler.record!(t, id, c, p, at);
        if (!grown) {
          grown = true;
          new Encoder().pairs(9, { BIG: 'x'.repeat(codec().x.memory.buffer.byteLength) }); // needs more memory than there is
        }
      },
    });
    const before = codec().x.memory.buffer.byteLength;
    d.push(bytes);
    expect(codec().x.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(log).toEqual(['rec 6/1 1+7', 'rec 4/2 8+0', 'pairs 4/2 [["A","b"],["C","d"]]', 'rec 4/2 0+0', 'pairs 4/2 []', 'rec 6/3 1+7']);
  });

  it('hands a split record on as one fragment per chunk: views of each chunk, START and END marked, STREAM_END on the empty record', () => {
    const data = Uint8Array.from({ length: 70000 }, (_, i) => (i * 31) & 255);
    const bytes = concat(enc.stream(RecordType.STDIN, 3, data, true));
    const seen: { bytes: Uint8Array; flags: number; offset: number; chunk: Uint8Array }[] = [];
    let chunk = new Uint8Array(0);
    const d = new Decoder({ fragment: (_t, _id, b, flags, offset) => seen.push({ bytes: b, flags, offset, chunk }) });
    for (let o = 0; o < bytes.length; o += 1460) d.push((chunk = bytes.slice(o, o + 1460)));
    d.end();
    for (const f of seen) expect(f.bytes.buffer).toBe(f.chunk.buffer); // never a copy
    const starts = seen.filter((f) => f.flags & Fragment.START);
    const ends = seen.filter((f) => f.flags & Fragment.END);
    expect(starts.map((f) => f.offset)).toEqual([8, 8 + 65528 + 8, 8 + 65528 + 8 + 4472 + 8]);
    expect(ends.map((f) => f.flags >>> 8 & 0xff)).toEqual([0, 0, 0]); // 65528 and 4472 need no padding
    expect(seen.filter((f) => f.flags & Fragment.STREAM_END).map((f) => f.bytes.length)).toEqual([0]);
    expect(concat(seen.map((f) => f.bytes))).toEqual(data);
    // each fragment's offset is where its bytes are in the stream
    for (const f of seen) expect(bytes.subarray(f.offset, f.offset + f.bytes.length)).toEqual(f.bytes);
  });

  it("gives every fragment its record's padding length, and an unknown type its content too", () => {
    const bytes = concat([enc.record(RecordType.STDOUT, 1, new Uint8Array(5).fill(1)), enc.record(200, 2, new Uint8Array(3).fill(2))]);
    const seen: string[] = [];
    const d = new Decoder({ fragment: (t, id, b, flags) => seen.push(`${t}/${id} ${b.length} ${flags & 7} pad ${flags >>> 8 & 0xff}`) });
    for (let o = 0; o < bytes.length; o += 10) d.push(bytes.slice(o, o + 10));
    d.end();
    expect(seen).toEqual(['6/1 2 1 pad 3', '6/1 3 2 pad 3', '200/2 3 3 pad 5']);
  });

  it('rejects a pair longer than maxPairBytes at its first byte, without waiting for its bytes', () => {
    const body = Uint8Array.from([0x80, 0, 0x10, 0, 0x01, 0x41]); // name of 4096 bytes declared
    const stream = concat([enc.beginRequest(1, Role.RESPONDER), enc.record(RecordType.PARAMS, 1, body)]);
    const d = new Decoder({}, { maxPairBytes: 1000 });
    let err: unknown;
    try {
      d.push(stream);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FastCGIProtocolError);
    expect((err as FastCGIProtocolError).code).toBe('PAIR_TOO_LONG');
    expect((err as FastCGIProtocolError).offset).toBe(24);
    expect((err as Error).message).toMatch(/pair limit.*offset 24/);
  });

  it('counts PARAMS bytes per request and fails past maxParamsBytes', () => {
    const d = new Decoder({}, { maxParamsBytes: 100 });
    d.push(concat([enc.beginRequest(1, Role.RESPONDER), enc.pairs(1, { A: 'x'.repeat(60) }, RecordType.PARAMS, false)]));
    expect(() => d.push(enc.pairs(1, { B: 'y'.repeat(60) }, RecordType.PARAMS, false))).toThrow(/PARAMS_TOO_LARGE: request 1 sent 126 bytes/);
  });

  it('resets the count when a request ends its params or a new request begins', () => {
    const d = new Decoder({}, { maxParamsBytes: 100 });
    for (let i = 0; i < 5; i++) {
      d.push(concat([enc.beginRequest(1, Role.RESPONDER), enc.pairs(1, { A: 'x'.repeat(60) })]));
    }
    expect(d.error).toBeNull();
  });

  it('stays failed after an error and says so on every push', () => {
    const d = new Decoder({});
    expect(() => d.push(Uint8Array.from([2, 6, 0, 1, 0, 0, 0, 0]))).toThrow(/BAD_VERSION/);
    expect(() => d.push(enc.record(RecordType.STDOUT, 1))).toThrow(/BAD_VERSION/);
    expect(d.error?.code).toBe('BAD_VERSION');
  });

  it('delivers the records before a bad one, and nothing of a record that fails', () => {
    const { handler, log } = collect();
    const d = new Decoder(handler);
    const bad = enc.record(RecordType.GET_VALUES, 0, Uint8Array.from([5, 1, 65])); // truncated pair
    expect(() => d.push(concat([enc.record(RecordType.STDOUT, 1, new Uint8Array(2)), bad]))).toThrow(/NV_TRUNCATED.*offset 16/);
    expect(log).toEqual(['rec 6/1 2+6']);
  });

  it('reports a truncated stream only at end(), with the stream length as offset', () => {
    const d = new Decoder({});
    d.push(enc.record(RecordType.STDOUT, 1, new Uint8Array(5)).subarray(0, 10));
    expect(d.error).toBeNull();
    expect(() => d.end()).toThrow(FastCGIProtocolError);
    expect(d.error).toMatchObject({ code: 'TRUNCATED_CONTENT', offset: 10 });
  });

  it('decodes BEGIN, END and UNKNOWN_TYPE bodies even when they straddle chunks', () => {
    const bytes = concat([enc.beginRequest(5, Role.AUTHORIZER, 1), enc.endRequest(5, 0xfffffffe, 2), enc.unknownType(77)]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const { handler, log } = collect();
      const d = new Decoder(handler);
      d.push(bytes.slice(0, cut));
      d.push(bytes.slice(cut));
      d.end();
      expect(log).toEqual(['rec 1/5 8+0', 'begin 5 2 1', 'rec 3/5 8+0', 'end 5 4294967294 2', 'rec 11/0 8+0', 'unknown 77']);
    }
  });

  it('makes pair strings lazily and keeps raw bytes and UTF-8 at hand', () => {
    let list: import('../../src/codec/index.js').PairList | null = null;
    const d = new Decoder({ pairs: (_t, _id, l) => (list ??= l) });
    d.push(enc.pairs(1, [['REQUEST_URI', new TextEncoder().encode('/caf\u00e9')], ['X', 'a'], ['X', 'b'], ['BIN', Uint8Array.from([0, 255])]]));
    expect(list!.length).toBe(4);
    expect(list!.valueUtf8(0)).toBe('/caf\u00e9');
    expect(list!.value(0)).toBe('/caf\u00c3\u00a9');
    expect(list!.get('X')).toBe('b');
    expect(list!.toObject()).toMatchObject({ X: 'b' });
    expect([...list!.valueBytes(3)]).toEqual([0, 255]);
    expect([...list!].map(([n]) => n)).toEqual(['REQUEST_URI', 'X', 'X', 'BIN']);
  });

  it('decodes Latin-1 the same from a Buffer and from a plain Uint8Array', () => {
    const bytes = Uint8Array.from({ length: 5000 }, (_, i) => i & 255);
    const expected = Array.from(bytes, (b) => String.fromCharCode(b)).join('');
    expect(latin1(bytes, 0, bytes.length)).toBe(expected);
    expect(latin1(bytes, 3, 20)).toBe(expected.slice(3, 20));
    expect(latin1(Buffer.from(bytes), 0, bytes.length)).toBe(expected);
  });

  it("gives each record's stream offset, and says when a pair runs on into the next PARAMS record, however the stream is cut", () => {
    const parts = [enc.beginRequest(1, Role.RESPONDER), ...splitParams(1, { NAME: 'v'.repeat(40), B: 'c' }, 20), enc.record(RecordType.PARAMS, 1), enc.record(RecordType.STDOUT, 1, new Uint8Array(3000))];
    const bytes = concat(parts);
    const starts = parts.map((_, i) => parts.slice(0, i).reduce((n, p) => n + p.length, 0));
    for (const size of [1, 5, 64, bytes.length]) {
      const seen: number[] = [];
      const open: boolean[] = [];
      const d = new Decoder({ record: (_t, _id, _c, _p, at) => seen.push(at), pairs: (_t, _id, _l, continues) => open.push(continues) });
      for (let o = 0; o < bytes.length; o += size) d.push(bytes.slice(o, o + size));
      d.end();
      expect(seen).toEqual(starts);
      // a 46-byte pair then a 4-byte one, in records of 20, 20 and 10 bytes, then the empty one: the
      // first pair straddles both boundaries
      expect(open).toEqual([true, true, false, false]);
    }
  });

  it('refuses bad limits with a clear error', () => {
    expect(() => new Decoder({}, { maxPairBytes: -1 })).toThrow(/maxPairBytes must be an integer/);
  });
});
