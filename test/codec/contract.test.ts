// The AS/TS contract (assembly/contract.ts, issue 15): the TypeScript side is generated from it at
// build time, so it cannot drift unless the build is stale; this fails when it is, and when the
// layout it defines no longer fits the blocks the heap hands out.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without types
import { generate } from '../../scripts/contract.mjs';
import * as Contract from '../../src/codec/contract.generated.js';
import { codec } from '../../src/codec/wasm.js';
import { DecodeErrorCodes, Fragment, RecordType } from '../../src/codec/index.js';

const source = readFileSync(new URL('../../assembly/contract.ts', import.meta.url), 'utf8');

describe('the wasm contract', () => {
  it('is generated from assembly/contract.ts as it is now, and the embedded module was built from the same', () => {
    const { ts, as } = generate(source) as { ts: string; as: string };
    expect(readFileSync(new URL('../../src/codec/contract.generated.ts', import.meta.url), 'utf8')).toBe(ts);
    expect(readFileSync(new URL('../../assembly/contract-id.generated.ts', import.meta.url), 'utf8')).toBe(as);
    expect(codec().x.contractId() >>> 0).toBe(Contract.CONTRACT_ID);
  });

  it('gives the public constants and error codes their one definition', () => {
    expect(RecordType).toBe(Contract.RecordType);
    expect(Fragment).toBe(Contract.Frag);
    expect(DecodeErrorCodes).toBe(Contract.ErrRule);
    for (const [name, code] of Object.entries(Contract.Err)) expect(DecodeErrorCodes[code]).toMatchObject({ code: name, rule: expect.stringMatching(/\S/) });
  });

  it('lays a state and a carry out inside one heap slot, and the regions where the module says', () => {
    const end = (fields: Record<string, number>, f64: string[]): number => Math.max(...Object.entries(fields).map(([k, at]) => at + (f64.includes(k) || k === 'HDR' || k === 'BODY' || k === 'HEAD' ? 8 : 4)));
    expect(end(Contract.State, ['ERR_AT', 'REC_AT'])).toBeLessThanOrEqual(Contract.Heap.SLOT);
    expect(end(Contract.Carry, ['BEGAN'])).toBeLessThanOrEqual(Contract.Heap.SLOT);
    for (const at of [Contract.State.ERR_AT, Contract.State.REC_AT, Contract.Carry.BEGAN]) expect(at % 8).toBe(0);
    expect(Contract.Heap.PAGE_DATA).toBe(Contract.Heap.PAGE - 4);
    const c = codec();
    expect(c.EVENTS - c.GLOBALS).toBe(Contract.Layout.GLOBALS_SIZE);
    expect(c.INPUT - c.EVENTS).toBe(Contract.Layout.EVENT_CAP * Contract.Layout.EVENT_WORDS * 4);
    // a window of INPUT_CAP bytes makes at most one event per two bytes, and a few more
    expect(Contract.Layout.EVENT_CAP).toBeGreaterThanOrEqual(Contract.Layout.INPUT_CAP / 2 + 64);
    expect(Contract.Layout.INPUT_CAP).toBeGreaterThanOrEqual(65535 + 8);
  });

  it('refuses a contract.ts line it could not carry over', () => {
    expect(() => generate('export namespace X {\n  export const A: u32 = 1 + 1;\n}\n')).toThrow(/only "export const NAME: u32 = number;"/);
  });
});
