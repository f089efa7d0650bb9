// What a conformance probe is, what it reports, and the judgement most probes share: what became of a
// request they sent (answered, answered differently, refused, closed, hung).

import { ProtocolStatus } from '../../codec/constants.js';
import type { Encoder } from '../../codec/encoder.js';
import type { Params } from './requests.js';
import type { EndSeen, Reply, Wire } from './wire.js';

/** What the app did with a probe, in the words of the table. */
export type Did = 'answered' | 'answered differently' | 'refused' | 'closed' | 'hung' | 'crashed' | 'not run';

/**
 * How to read a result. `violation`: the app breaks a rule of the spec and no client setting avoids the
 * harm (a crash, a broken reply, a lost plain request). `divergence`: the app departs from the spec,
 * or rejects what the spec allows, in a way clients work around (the probe's `meaning` says how).
 * `information`: a choice the spec leaves to the app (multiplexing, the roles it plays).
 */
export type Verdict = 'pass' | 'information' | 'divergence' | 'violation';

export interface Judged {
  did: Did;
  verdict: Verdict;
  /** What exactly came back (statuses, values, how the connection ended). */
  detail: string;
  /** What this outcome means for a client, when it is not the probe's usual `meaning`. */
  meaning?: string;
}

export interface ProbeContext {
  /** A new connection to the app; it closes when the probe ends. Every wait ends at the probe's deadline. */
  open(): Promise<Wire>;
  /** The CGI params of a plain request (--root, --script, --param...), a fresh copy each time. */
  params(): Params;
  /** The CGI status the plain Responder request got (probe `responder`), to compare answers with. */
  baseline: number | undefined;
  /** Milliseconds each probe may take. */
  timeout: number;
  /** Frames what the probes send. */
  encoder: Encoder;
}

export interface Probe {
  /** Stable name, used in the table, in --json and by --only. */
  id: string;
  /** The sections of the FastCGI 1.0 specification the probe checks (fcgi2 doc/fcgi-spec.html). */
  spec: string;
  /** Ids of the conformance vectors (test/fixtures/conformance-vectors.json) with the same bytes or fact. */
  vectors: string[];
  /** What the probe sends. */
  sends: string;
  /** What the spec says the app does. */
  says: string;
  /** What a client must do with an app that does otherwise. */
  meaning: string;
  run(ctx: ProbeContext): Promise<Judged>;
}

/** How a wait ended (Wire.until). */
export type Waited = 'done' | 'closed' | 'timeout';

const STATUS_NAMES: Record<number, string> = {
  [ProtocolStatus.CANT_MPX_CONN]: 'CANT_MPX_CONN',
  [ProtocolStatus.OVERLOADED]: 'OVERLOADED',
  [ProtocolStatus.UNKNOWN_ROLE]: 'UNKNOWN_ROLE',
};
export const statusName = (s: number): string => STATUS_NAMES[s] ?? `protocol status ${s}`;

/** A wait condition: `n` END_REQUESTs for request `id` came. */
export const ended =
  (id: number, n = 1) =>
  (r: Reply): boolean =>
    r.ends.filter((e) => e.requestId === id).length >= n;

/** What became of one request: `broken` when the app's bytes broke the protocol. */
export interface Fate {
  did: Did;
  detail: string;
  end?: EndSeen;
  broken?: boolean;
}

/**
 * The fate of request `id` (its `nth` END_REQUEST) on `w` after a wait that ended `how`; with
 * `sameStatus`, an answer whose CGI status differs from the plain request's is "answered differently".
 */
export function fate(w: Wire, how: Waited, id: number, ctx: ProbeContext, opts: { nth?: number; sameStatus?: boolean } = {}): Fate {
  const r = w.reply;
  if (r.error) return { did: 'answered differently', broken: true, detail: `its reply broke the protocol: ${r.error.message}` };
  const end = w.endsOf(id)[opts.nth ?? 0];
  if (!end) {
    const which = opts.nth ? `second END_REQUEST for request ${id}` : `END_REQUEST for request ${id}`;
    if (how === 'timeout') return { did: 'hung', detail: `no ${which} within ${ctx.timeout} ms` };
    return { did: 'closed', detail: `${r.closed === 'reset' ? 'reset' : 'closed'} the connection without ${opts.nth ? 'a ' : ''}${which}` };
  }
  if (end.protocolStatus !== ProtocolStatus.REQUEST_COMPLETE) return { did: 'refused', end, detail: `END_REQUEST ${statusName(end.protocolStatus)} for request ${id}` };
  const status = end.status === undefined ? 'no CGI head' : end.status === -1 ? 'a malformed CGI head' : `status ${end.status}`;
  if (opts.sameStatus && ctx.baseline !== undefined && end.status !== ctx.baseline) {
    return { did: 'answered differently', end, detail: `${status}, where the plain request got ${ctx.baseline}` };
  }
  return { did: 'answered', end, detail: `${status}, END_REQUEST complete` };
}

/** The usual judgement: answered passes, anything else is `ifNot` (a broken reply is always a violation). */
export function judge(f: Fate, ifNot: Verdict): Judged {
  if (f.broken) return { did: f.did, verdict: 'violation', detail: f.detail };
  return { did: f.did, verdict: f.did === 'answered' ? 'pass' : ifNot, detail: f.detail };
}

/** Sends `parts` on a new connection and judges request `id` as `judge` does. */
export async function oneRequest(ctx: ProbeContext, parts: Uint8Array[], id: number, ifNot: Verdict, sameStatus = true): Promise<Judged> {
  const w = await ctx.open();
  w.send(...parts);
  return judge(fate(w, await w.until(ended(id)), id, ctx, { sameStatus }), ifNot);
}
