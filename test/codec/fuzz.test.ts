// Differential fuzzing: the wasm Decoder, fed in random cuts, against the reference decoder on the
// whole input. Seeded (fast-check), 100,000+ inputs per CI run: generated streams of well-formed and
// subtly wrong records (pairs split across PARAMS records, non-minimal lengths, every record type,
// tight limits, partial pair budgets), then the same streams mutated (bytes flipped, cut short, bytes inserted), and raw
// random bytes. Same records, pairs, bodies and error (code and offset), or the test fails with the seed.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeCut } from './harness.js';
import { referenceDecode } from './reference.js';

const SEED = 20261128;

const lengthBytes = (n: number, long: boolean): number[] =>
  n > 127 || long ? [0x80 | (n >>> 24), (n >>> 16) & 255, (n >>> 8) & 255, n & 255] : [n];

function record(type: number, id: number, content: number[], padding: number, reserved = 0): number[] {
  const pad = Array.from({ length: padding }, (_, i) => (i * 37 + padding) & 255);
  return [1, type, id >> 8, id & 255, content.length >> 8, content.length & 255, padding, reserved, ...content, ...pad];
}

const bytesArb = (max: number) => fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: max });
const padArb = fc.oneof({ weight: 4, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) });
const canonical = (len: number, pad: number): number => (pad < 0 ? (8 - (len & 7)) & 7 : pad);
const idArb = fc.oneof(fc.constantFrom(0, 1, 2, 7, 65535), fc.integer({ min: 0, max: 65535 }));

/** A pair body: random names and values, some long (4-byte lengths), some with non-minimal lengths. */
const pairsBodyArb = fc
  .array(
    fc.record({
      name: fc.oneof(bytesArb(12), bytesArb(140)),
      value: fc.oneof(bytesArb(20), bytesArb(300)),
      longName: fc.boolean(),
      longValue: fc.boolean(),
    }),
    { maxLength: 6 },
  )
  .map((pairs) =>
    pairs.flatMap((p) => [...lengthBytes(p.name.length, p.longName), ...lengthBytes(p.value.length, p.longValue), ...p.name, ...p.value]),
  );

/** A PARAMS stream for one id: its pair body cut into records anywhere (pairs straddle), then the end. */
const paramsStreamArb = fc
  .record({ id: idArb, body: pairsBodyArb, cuts: fc.array(fc.nat(), { maxLength: 4 }), pad: padArb, terminate: fc.boolean() })
  .map(({ id, body, cuts, pad, terminate }) => {
    const at = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
    const out: number[] = [];
    let from = 0;
    for (const c of [...at, body.length]) {
      const part = body.slice(from, c);
      if (part.length > 0) out.push(...record(4, id, part, canonical(part.length, pad)));
      from = c;
    }
    if (terminate) out.push(...record(4, id, [], 0));
    return out;
  });

const recordArb: fc.Arbitrary<number[]> = fc.oneof(
  // BEGIN_REQUEST, mostly valid
  fc.record({ id: idArb, role: fc.integer({ min: 0, max: 5 }), flags: fc.integer({ min: 0, max: 255 }), len: fc.constantFrom(8, 8, 8, 7, 0) }).map(
    ({ id, role, flags, len }) => record(1, id, [0, role, flags, 0, 0, 0, 0, 0].slice(0, len), 0),
  ),
  fc.record({ id: idArb }).map(({ id }) => record(2, id, [], 0)),
  fc.record({ id: idArb, app: fc.integer({ min: 0, max: 0xffffffff }), status: fc.integer({ min: 0, max: 3 }), len: fc.constantFrom(8, 8, 4) }).map(
    ({ id, app, status, len }) => record(3, id, [app >>> 24, (app >>> 16) & 255, (app >>> 8) & 255, app & 255, status, 1, 2, 3].slice(0, len), 0),
  ),
  paramsStreamArb,
  fc.record({ type: fc.constantFrom(5, 6, 7, 8), id: idArb, content: fc.oneof(bytesArb(40), bytesArb(600)), pad: padArb }).map(
    ({ type, id, content, pad }) => record(type, id, content, canonical(content.length, pad)),
  ),
  fc.record({ type: fc.constantFrom(9, 10), body: pairsBodyArb }).map(({ type, body }) => record(type, 0, body, canonical(body.length, -1))),
  fc.record({ t: fc.integer({ min: 0, max: 255 }), len: fc.constantFrom(8, 8, 3) }).map(({ t, len }) => record(11, 0, [t, 0, 0, 0, 0, 0, 0, 0].slice(0, len), 0)),
  fc.record({ type: fc.constantFrom(0, 12, 42, 200, 255), id: idArb, content: bytesArb(30), pad: padArb }).map(
    ({ type, id, content, pad }) => record(type, id, content, canonical(content.length, pad)),
  ),
);

const streamArb = fc.array(recordArb, { minLength: 1, maxLength: 6 }).map((rs) => Uint8Array.from(rs.flat()));

/** A well-formed-ish stream damaged: bytes flipped, cut short, or bytes inserted. */
const mutatedArb = fc
  .record({
    stream: streamArb,
    edits: fc.array(fc.record({ kind: fc.constantFrom('flip', 'cut', 'insert'), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }),
  })
  .map(({ stream, edits }) => {
    let bytes = [...stream];
    for (const e of edits) {
      const at = e.at % (bytes.length + 1);
      if (e.kind === 'flip' && at < bytes.length) bytes[at] = e.value;
      else if (e.kind === 'cut') bytes = bytes.slice(0, at);
      else bytes.splice(at, 0, e.value);
    }
    return Uint8Array.from(bytes);
  });

const optionsArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.record({ maxPairBytes: fc.integer({ min: 0, max: 400 }), maxParamsBytes: fc.integer({ min: 0, max: 1500 }) }) },
  // a budget for partial pairs from none to a few pairs' worth (each takes at least 1152 bytes)
  { weight: 1, arbitrary: fc.record({ maxPartialPairBytes: fc.integer({ min: 0, max: 5000 }) }) },
);

function cutsArb(): fc.Arbitrary<(len: number) => number[]> {
  return fc.oneof(
    fc.array(fc.nat(), { maxLength: 6 }).map((cs) => (len: number) => cs.map((c) => c % (len + 1)).sort((a, b) => a - b)),
    fc.constant((len: number) => Array.from({ length: Math.max(0, len - 1) }, (_, i) => i + 1)),
  );
}

function check(bytes: Uint8Array, cutsOf: (len: number) => number[], options: object): void {
  const want = referenceDecode(bytes, options);
  const got = decodeCut(bytes, cutsOf(bytes.length), options);
  expect(got).toEqual(want);
}

describe('differential fuzz against the reference decoder', () => {
  it('generated record streams (50,000)', () => {
    fc.assert(fc.property(streamArb, cutsArb(), optionsArb, check), { seed: SEED, numRuns: 50_000 });
  });
  it('mutated record streams (40,000)', () => {
    fc.assert(fc.property(mutatedArb, cutsArb(), optionsArb, check), { seed: SEED + 1, numRuns: 40_000 });
  });
  it('random bytes (10,000)', () => {
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 64 }).map((b) => Uint8Array.from([1, ...b])), // at least a valid version
    );
    fc.assert(fc.property(arb, cutsArb(), optionsArb, check), { seed: SEED + 2, numRuns: 10_000 });
  });
});
