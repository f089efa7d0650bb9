// Runs the catalogue against one app: probe after probe (a single-process app such as fcgi2's serves
// one connection at a time), each on connections of its own that close when it ends, each bounded by
// the timeout. After every probe a bare connect tells whether the app is still there: one that stopped
// accepting connections crashed, and the probes after it are not run.

import { Encoder } from '../../codec/encoder.js';
import { CATALOGUE } from './catalogue.js';
import type { Judged, Probe, ProbeContext, Verdict } from './probe.js';
import type { Params } from './requests.js';
import { ConnectFailure, Wire } from './wire.js';

/** A probe's description and what it found; `meaning` is the one for this outcome. */
export interface ProbeResult extends Omit<Probe, 'run'>, Judged {
  meaning: string;
  ms: number;
  /** What the app sent on each of the probe's connections: byte count and the first bytes, hex. */
  replies: { bytes: number; hex: string }[];
}

export interface ConformReport {
  address: string;
  timeout: number;
  results: ProbeResult[];
  counts: Record<Verdict, number>;
  ms: number;
}

export interface ConformOptions {
  timeout: number;
  params: Params;
  /** Probe ids to run (default: all). */
  only?: string[];
  /** Called as each probe finishes (for output while the run goes on). */
  onResult?(result: ProbeResult): void;
}

/**
 * How long the check after a probe waits for its connection. A refusal (nothing listens: a crash) comes
 * at once on loopback and on a Unix socket; a connection that takes longer is an app still there but
 * slow, and the short wait keeps a run of a stuck app within the catalogue's size times the timeout.
 */
const LIVENESS_WAIT = 250;

/** Whether the app accepts a connection; false only when it refuses (a crash), not when it is slow. */
async function stillThere(address: string, timeout: number): Promise<boolean> {
  try {
    (await Wire.open(address, performance.now() + Math.min(timeout, LIVENESS_WAIT))).close();
    return true;
  } catch (e) {
    if (e instanceof ConnectFailure) return !e.refused;
    throw e;
  }
}

async function runProbe(probe: Probe, address: string, ctx: ProbeContext, wires: Wire[]): Promise<Judged> {
  const deadline = performance.now() + ctx.timeout;
  ctx.open = async () => {
    const w = await Wire.open(address, deadline);
    wires.push(w);
    return w;
  };
  try {
    return await probe.run(ctx);
  } catch (e) {
    if (!(e instanceof ConnectFailure)) throw e;
    if (e.refused) return { did: 'crashed', verdict: 'violation', detail: `the app refused the probe's connection: ${e.message}` };
    return { did: 'hung', verdict: 'violation', detail: `the app accepted no connection within ${ctx.timeout} ms` };
  } finally {
    for (const w of wires) w.close();
  }
}

const hex = (parts: Uint8Array[]): string => parts.map((p) => Array.from(p, (b) => b.toString(16).padStart(2, '0')).join('')).join('');

export async function runConformance(address: string, options: ConformOptions): Promise<ConformReport> {
  const started = performance.now();
  const encoder = new Encoder();
  const ctx: ProbeContext = {
    open: () => Promise.reject(new Error('no probe is running')),
    params: () => options.params.map(([n, v]) => [n, v] as [string, string]),
    baseline: undefined,
    timeout: options.timeout,
    encoder,
  };
  const counts: Record<Verdict, number> = { pass: 0, information: 0, divergence: 0, violation: 0 };
  const results: ProbeResult[] = [];
  let crashedAt: string | null = null;
  for (const probe of CATALOGUE) {
    if (options.only && !options.only.includes(probe.id)) continue;
    const at = performance.now();
    const wires: Wire[] = [];
    let judged: Judged;
    if (crashedAt !== null) judged = { did: 'not run', verdict: 'information', detail: `the app stopped accepting connections at probe ${crashedAt}` };
    else {
      judged = await runProbe(probe, address, ctx, wires);
      if (judged.did !== 'crashed' && !(await stillThere(address, options.timeout))) {
        judged = { did: 'crashed', verdict: 'violation', detail: `the app refused connections after this probe (${judged.did}: ${judged.detail})` };
      }
      if (judged.did === 'crashed') crashedAt = probe.id;
    }
    const { run: _run, ...about } = probe;
    const result: ProbeResult = { ...about, ...judged, meaning: judged.meaning ?? about.meaning, ms: Math.round(performance.now() - at), replies: wires.map((w) => ({ bytes: w.reply.bytes, hex: hex(w.reply.head) })) };
    if (judged.did !== 'not run') counts[judged.verdict]++;
    results.push(result);
    options.onResult?.(result);
  }
  return { address, timeout: options.timeout, results, counts, ms: Math.round(performance.now() - started) };
}
