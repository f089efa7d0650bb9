// Running `fcgi conform ADDR --json` from the tests, and checking its table against what a peer is
// known to do: every probe passes except the ones listed, each with the outcome and verdict given.
// With FCGI_CONFORM_SAVE=DIR, each peer's report is also written to DIR/NAME.json, from which
// scripts/conform-readme.sh makes the README's tables.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { ConformReport } from '../../src/cli/conform/run.js';
import { fcgi } from './run-cli.js';

export interface Conformed {
  report: ConformReport;
  code: number | null;
  /** Wall time of the whole command, process start included. */
  ms: number;
}

export async function conformJson(address: string, args: string[] = [], saveAs?: string): Promise<Conformed> {
  const ran = await fcgi(['conform', address, '--json', ...args], { timeout: 90_000 });
  if (!ran.out.startsWith('{')) throw new Error(`fcgi conform printed no report (exit ${ran.code}): ${ran.err}`);
  saveReport(saveAs, ran.out);
  return { report: JSON.parse(ran.out) as ConformReport, code: ran.code, ms: ran.ms };
}

/** [did, verdict] of every probe that does not pass; all others must pass. */
export type Departures = Record<string, [string, string]>;

export function expectTable(report: ConformReport, departures: Departures): void {
  const got = Object.fromEntries(report.results.map((r) => [r.id, r.verdict === 'pass' ? 'pass' : `${r.did} / ${r.verdict}`]));
  const want = Object.fromEntries(report.results.map((r) => [r.id, departures[r.id] ? departures[r.id]!.join(' / ') : 'pass']));
  expect(got).toEqual(want);
}

export const result = (report: ConformReport, id: string) => report.results.find((r) => r.id === id)!;

/** Writes `json` to $FCGI_CONFORM_SAVE/NAME.json when that variable is set. */
export function saveReport(name: string | undefined, json: string): void {
  const dir = process.env.FCGI_CONFORM_SAVE;
  if (dir && name) writeFileSync(join(dir, `${name}.json`), json);
}
