// What a decoder holds in the realm's wasm memory: a slot of its own from its first push to its end,
// partial pairs under one budget per decoder, linear in their bytes, and nothing left behind when it
// goes, however many come and go (issue 15: a connection must not be able to slow or bloat the others).

import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Decoder, Encoder, FastCGIProtocolError, RecordType, Role, type DecoderHandler } from '../../src/codec/index.js';
import { codec } from '../../src/codec/wasm.js';
import { concat, splitParams } from './bytes.js';
import { rng } from './harness.js';
import { currentRuntime } from '../runtimes/runtime.js';

const enc = new Encoder();
const inUse = (): number => codec().heapInUse();
const memoryBytes = (): number => codec().x.memory.buffer.byteLength;
/** What a partial pair of `len` bytes takes (README: a 128-byte slot and 1 KiB pages of 1020 bytes). */
const charge = (len: number): number => 128 + 1024 * Math.ceil(len / 1020);

/** A PARAMS record holding the first `n` bytes of a pair whose value is `valueLength` bytes of `fill`. */
function partialPair(id: number, valueLength: number, n: number, fill = 0x61): Uint8Array {
  const name = 'V';
  const body = new Uint8Array(1 + 4 + name.length + valueLength).fill(fill);
  body.set([name.length, 0x80 | (valueLength >>> 24), (valueLength >>> 16) & 255, (valueLength >>> 8) & 255, valueLength & 255, 0x56], 0);
  return enc.record(RecordType.PARAMS, id, body.subarray(0, n));
}

function logOf(): { handler: DecoderHandler; log: string[] } {
  const log: string[] = [];
  return {
    log,
    handler: {
      fragment: (t, id, b, flags) => log.push(`frag ${t}/${id} ${Array.from(b).join(',')} ${flags}`),
      pairs: (t, id, list) => log.push(`pairs ${t}/${id} ${JSON.stringify(list.toArray())}`),
      begin: (id, role, flags) => log.push(`begin ${id} ${role} ${flags}`),
    },
  };
}

describe('decoder memory', () => {
  it('takes a slot at its first push and gives it back at end(), at dispose() and when it fails', () => {
    const start = inUse();
    const ended = new Decoder({});
    expect(inUse()).toBe(start); // nothing before the first push
    ended.push(enc.record(RecordType.STDOUT, 1, new Uint8Array(3)));
    expect(inUse()).toBe(start + 128);
    ended.end();
    expect(inUse()).toBe(start);

    const disposed = new Decoder({});
    disposed.push(partialPair(1, 5000, 3000)); // a partial pair: its slot and pages too
    expect(inUse()).toBe(start + 128 + charge(3000));
    disposed.dispose();
    expect(inUse()).toBe(start);

    const failed = new Decoder({});
    failed.push(partialPair(1, 5000, 3000));
    expect(() => failed.push(Uint8Array.from([9, 9, 9, 9, 9, 9, 9, 9]))).toThrow(/BAD_VERSION/);
    expect(inUse()).toBe(start);
  });

  it('gives back the memory of decoders dropped without end() or dispose() once they are collected', () => {
    const script = fileURLToPath(new URL('../fixtures/codec/dropped-decoders.mjs', import.meta.url));
    const runtime = currentRuntime();
    const argv = runtime === 'deno' ? ['run', '-A', '--v8-flags=--expose-gc', script] : runtime === 'bun' ? [script] : ['--expose-gc', script];
    const r = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const { before, held, after } = JSON.parse(r.stdout) as { before: number; held: number; after: number };
    expect(held - before).toBe(1000 * (128 + charge(3000)));
    expect(after).toBe(before);
  });

  it('charges partial pairs their slot and pages, grows one pair without touching the others, and fails past the budget', () => {
    const start = inUse();
    const values = Array.from({ length: 200 }, (_, i) => 12000 + i);
    const budget = 128 + 199 * charge(2000) + charge(12000) + charge(2000); // room for one more 2000-byte pair
    const got = new Map<number, string>();
    const d = new Decoder({ pairs: (_t, id, list) => list.length > 0 && got.set(id, list.value(0)) }, { maxPartialPairBytes: budget });
    const bodies = values.map((v, i) => {
      const body = new Uint8Array(6 + v).fill(0x41 + (i % 26));
      body.set([1, 0x80 | (v >>> 24), (v >>> 16) & 255, (v >>> 8) & 255, v & 255, 0x56], 0);
      return body;
    });
    // 200 requests, each leaving a pair partial after 2000 bytes
    for (let i = 0; i < 200; i++) d.push(concat([enc.beginRequest(i + 1, Role.RESPONDER), enc.record(RecordType.PARAMS, i + 1, bodies[i]!.subarray(0, 2000))]));
    expect(inUse() - start).toBe(128 + 200 * charge(2000));
    // 10,000 more bytes for the first: only its own pages more
    d.push(enc.record(RecordType.PARAMS, 1, bodies[0]!.subarray(2000, 12000)));
    expect(inUse() - start).toBe(128 + 199 * charge(2000) + charge(12000));
    // every pair completes intact, whatever happened to the others meanwhile
    for (let i = 0; i < 200; i++) {
      const from = i === 0 ? 12000 : 2000;
      d.push(concat([enc.record(RecordType.PARAMS, i + 1, bodies[i]!.subarray(from)), enc.record(RecordType.PARAMS, i + 1)]));
      expect(got.get(i + 1)).toBe(String.fromCharCode(0x41 + (i % 26)).repeat(values[i]!));
    }
    expect(inUse() - start).toBe(128);
    // 201 partial pairs of 2000 bytes: the budget holds 200 (and the first pair's 12000 bytes) but not 202
    d.push(concat([enc.beginRequest(1, Role.RESPONDER), enc.record(RecordType.PARAMS, 1, bodies[0]!.subarray(0, 12000))]));
    for (let id = 2; id <= 201; id++) d.push(concat([enc.beginRequest(id, Role.RESPONDER), partialPair(id, 5000, 2000)]));
    const at = d.offset;
    let err: unknown;
    try {
      d.push(concat([enc.beginRequest(202, Role.RESPONDER), partialPair(202, 5000, 2000)]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FastCGIProtocolError);
    expect(err).toMatchObject({ code: 'PARTIAL_PAIRS_TOO_LARGE', offset: at + 16 });
    expect((err as Error).message).toMatch(/maxPartialPairBytes/);
    expect(inUse()).toBe(start);
  });

  it('turns the 256-partial-pairs attack into PARTIAL_PAIRS_TOO_LARGE before it holds more than its budget', () => {
    const start = inUse();
    const d = new Decoder({});
    let held = 0;
    let err: unknown;
    try {
      // 256 requests, each opening a pair of a little under 1 MiB, fed 64 KiB a record in turn
      for (let round = 0; round < 16; round++) {
        for (let id = 1; id <= 256; id++) {
          if (round === 0) d.push(concat([enc.beginRequest(id, Role.RESPONDER), partialPair(id, 1_000_000, 65000)]));
          else d.push(enc.record(RecordType.PARAMS, id, new Uint8Array(65000).fill(0x62)));
          held = Math.max(held, inUse() - start);
        }
      }
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'PARTIAL_PAIRS_TOO_LARGE' });
    // the default budget: maxPairBytes (1 MiB) + 1/16 + 64 KiB, plus the decoder's slot
    expect(held).toBeLessThanOrEqual((1 << 20) + (1 << 16) + 65536 + 128);
    expect(inUse()).toBe(start);
  });

  it('lets 100,000 decoders come and go (fed, ended, disposed, failed) and keeps wasm memory flat', () => {
    const streams = [
      // a request: a pair straddling two PARAMS records, a body
      concat([enc.beginRequest(1, Role.RESPONDER), ...splitParams(1, { LONG: 'x'.repeat(2500), SHORT: 'y' }, 1500), enc.record(RecordType.PARAMS, 1), ...enc.stream(RecordType.STDIN, 1, new Uint8Array(3000), true)]),
      // a reply
      concat([...enc.stream(RecordType.STDOUT, 1, new Uint8Array(5000), true), enc.endRequest(1, 0)]),
    ];
    const random = rng(15);
    const alive: [Decoder, number][] = [];
    const bad = Uint8Array.from([7, 7, 7, 7, 7, 7, 7, 7]);
    // warm up: the first decoders take the heap's first blocks
    for (let i = 0; i < 300; i++) new Decoder({}).push(streams[0]!.subarray(0, 1800));
    const startMemory = memoryBytes();
    const start = inUse();
    for (let n = 0; n < 100_000; n++) {
      const d = new Decoder({ fragment() {}, pairs() {} });
      const kind = n % 3;
      if (kind === 2) {
        d.push(concat([enc.beginRequest(1, Role.RESPONDER), partialPair(1, 3000, 1500)])); // a pair left open
      } else {
        // in two pieces, so that pairs and records straddle chunks; half of them stop halfway
        const s = streams[n & 1]!;
        const cut = 1 + Math.floor(random() * (s.length - 1));
        d.push(s.subarray(0, cut));
        if (random() < 0.5) d.push(s.subarray(cut));
      }
      alive.push([d, kind]);
      if (alive.length > 200) {
        const k = Math.floor(random() * alive.length);
        const [gone, how] = alive[k]!;
        alive[k] = alive[alive.length - 1]!;
        alive.pop();
        if (how === 2) expect(() => gone.push(bad)).toThrow(/BAD_VERSION/);
        else if (how === 1) gone.dispose();
        else {
          try {
            gone.end(); // a stream stopped halfway fails TRUNCATED_*, and is let go all the same
          } catch (e) {
            expect(e).toBeInstanceOf(FastCGIProtocolError);
          }
        }
      }
    }
    for (const [d] of alive.splice(0)) d.dispose();
    expect(inUse()).toBe(start);
    expect(memoryBytes() - startMemory).toBeLessThanOrEqual(1 << 20);
  });

  it('keeps hundreds of decoders apart, pushed in turn in random pieces', () => {
    const random = rng(1515);
    const streams = Array.from({ length: 300 }, (_, n) =>
      concat([
        enc.beginRequest(1 + (n % 7), Role.RESPONDER),
        ...splitParams(1 + (n % 7), { [`NAME_${n}`]: String.fromCharCode(0x41 + (n % 26)).repeat(100 + n * 7), N: String(n) }, 1 + (n % 97)),
        enc.record(RecordType.PARAMS, 1 + (n % 7)),
        ...enc.stream(RecordType.STDIN, 1 + (n % 7), new Uint8Array(50 + n).fill(n & 255), true),
      ]),
    );
    const logs = streams.map(() => logOf());
    const decoders = logs.map((l) => new Decoder(l.handler));
    const at = streams.map(() => 0);
    let left = streams.length;
    while (left > 0) {
      const i = Math.floor(random() * streams.length);
      const s = streams[i]!;
      if (at[i]! >= s.length) continue;
      const n = 1 + Math.floor(random() * 200);
      decoders[i]!.push(s.slice(at[i], at[i]! + n));
      at[i]! += n;
      if (at[i]! >= s.length) {
        decoders[i]!.end();
        left--;
      }
    }
    streams.forEach((s, i) => {
      // alone, in one piece, the same pairs and the same bytes (fragment boundaries aside)
      const alone = logOf();
      const d = new Decoder(alone.handler);
      d.push(s);
      d.end();
      const pairsOf = (log: string[]): string[] => log.filter((l) => !l.startsWith('frag'));
      expect(pairsOf(logs[i]!.log)).toEqual(pairsOf(alone.log));
      const bytesOf = (log: string[]): string => log.filter((l) => l.startsWith('frag 5/')).map((l) => l.split(' ')[2]).filter(Boolean).join(',');
      expect(bytesOf(logs[i]!.log)).toBe(bytesOf(alone.log));
    });
  });
});
