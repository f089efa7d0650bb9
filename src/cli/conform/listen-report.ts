// What `fcgi conform --listen` saw a web server send: per request (the text the app answers with and
// prints), and summed over the run (the summary printed at exit).

import type { Finding } from '../../inspect/types.js';
import { Role } from '../../codec/constants.js';

/** A stream (PARAMS, STDIN, DATA) as the web server cut it into records. */
export interface StreamSeen {
  /** Non-empty records, and their content bytes. */
  records: number;
  bytes: number;
  /** The content lengths of the first LENGTHS_KEPT records. */
  lengths: number[];
  /** The empty record that ends the stream came. */
  ended: boolean;
}

/** Record lengths listed per stream; a long upload is summed past these. */
const LENGTHS_KEPT = 32;

export const newStream = (): StreamSeen => ({ records: 0, bytes: 0, lengths: [], ended: false });

/** Counts one record of `length` content bytes (0: the end of the stream). */
export function streamRecord(s: StreamSeen, length: number): void {
  if (length === 0) {
    s.ended = true;
    return;
  }
  s.records++;
  s.bytes += length;
  if (s.lengths.length < LENGTHS_KEPT) s.lengths.push(length);
}

/** One request as the web server framed it. */
export interface Observed {
  connection: number;
  /** 1 for the connection's first request, 2 for the next... */
  nth: number;
  requestId: number;
  role: number;
  flags: number;
  keepConn: boolean;
  /** Requests open on the connection when this one began, itself included (more than 1: multiplexed). */
  concurrent: number;
  params: StreamSeen;
  /** A pair was left partial at the end of a PARAMS record (it went on in the next). */
  pairSplit: boolean;
  pairs: [string, string][];
  stdin: StreamSeen;
  data: StreamSeen;
  /** Records read for the request, BEGIN_REQUEST included. */
  records: number;
  /** Padding lengths matched (-contentLength) & 7 on every record; none at all. */
  paddingCanonical: boolean;
  paddingNone: boolean;
  aborted: 'ABORT_REQUEST' | 'closed' | null;
  findings: Finding[];
  /** The decode error that stopped reading the connection. */
  error?: string;
  /** What the web server did after an unsolicited management record (fcgi-conform=...). */
  reaction?: string;
}

const ROLE_NAMES: Record<number, string> = { [Role.RESPONDER]: 'RESPONDER', [Role.AUTHORIZER]: 'AUTHORIZER', [Role.FILTER]: 'FILTER' };
const lengthSize = (n: number): number => (n > 127 ? 4 : 1);

/**
 * How the pair lengths were written, from sizes alone: the PARAMS content minus what the pairs take
 * with minimal lengths is 3 bytes per length written in four bytes below 128 (spec 3.4).
 */
export function lengthEncodings(o: Observed): { fourByte: number; nonMinimal: number } | null {
  if (o.error || !o.params.ended) return null;
  let minimal = 0;
  let fourByte = 0;
  for (const [n, v] of o.pairs) {
    minimal += lengthSize(n.length) + lengthSize(v.length) + n.length + v.length;
    fourByte += (n.length > 127 ? 1 : 0) + (v.length > 127 ? 1 : 0);
  }
  const nonMinimal = (o.params.bytes - minimal) / 3;
  return { fourByte: fourByte + nonMinimal, nonMinimal };
}

function records(s: StreamSeen): string {
  const more = s.records > s.lengths.length ? ', ...' : '';
  const list = s.records > 0 ? ` (${s.lengths.join(', ')}${more} bytes)` : '';
  return `${s.records} record${s.records === 1 ? '' : 's'}${list}${s.ended ? ' + the empty record' : ', never ended'}`;
}

function paddingText(o: Observed): string {
  if (o.records <= 1) return 'no record after BEGIN_REQUEST read';
  if (o.paddingNone) return 'none';
  return o.paddingCanonical ? 'to 8-byte boundaries' : 'other than to 8-byte boundaries';
}

/** The request as text: what the app answers and prints. `params` adds every pair. */
export function observedText(o: Observed, params: boolean): string {
  const flags = `flags 0x${o.flags.toString(16).padStart(2, '0')}${o.keepConn ? ' (KEEP_CONN)' : ''}`;
  const lines = [`connection ${o.connection}, request ${o.nth} on it: request id ${o.requestId}, ${ROLE_NAMES[o.role] ?? `role ${o.role}`}, ${flags}, ${o.concurrent} open on the connection`];
  const enc = lengthEncodings(o);
  const lengths = enc === null ? 'lengths unknown' : enc.nonMinimal > 0 ? `${enc.nonMinimal} length(s) below 128 in the four-byte form` : `lengths minimal (${enc.fourByte} in the four-byte form)`;
  lines.push(`  PARAMS: ${records(o.params)}; ${o.pairs.length} pairs; ${o.pairSplit ? 'a pair split across records' : 'no pair split'}; ${lengths}`);
  lines.push(`  STDIN:  ${records(o.stdin)}, ${o.stdin.bytes} bytes`);
  if (o.role === Role.FILTER) lines.push(`  DATA:   ${records(o.data)}, ${o.data.bytes} bytes`);
  lines.push(`  padding: ${paddingText(o)}`);
  if (o.aborted) lines.push(`  aborted: ${o.aborted === 'ABORT_REQUEST' ? 'FCGI_ABORT_REQUEST' : 'the web server closed the connection while the request ran (no ABORT_REQUEST)'}`);
  if (o.reaction) lines.push(`  ${o.reaction}`);
  if (o.error) lines.push(`  could not read on: ${o.error}`);
  for (const f of o.findings) lines.push(`  finding ${f.code}: ${f.message}`);
  if (params) for (const [n, v] of o.pairs) lines.push(`  ${n}=${v}`);
  return lines.join('\n');
}

export interface ListenSummary {
  requests: number;
  connections: number;
  requestIds: number[];
  keepConn: number;
  maxConcurrent: number;
  maxRequestsPerConnection: number;
  paramsRecords: { min: number; max: number };
  pairSplits: number;
  nonMinimalLengths: number;
  unendedStreams: number;
  padding: string[];
  aborts: { abortRequest: number; closed: number };
  /** The distinct reactions to unsolicited management records. */
  reactions: string[];
  findings: Record<string, number>;
}

/**
 * The summary, added to as each request is done: it holds counts and small sets, never the requests
 * (a web server may send millions while someone browses).
 */
export class ListenTally {
  private readonly s: ListenSummary = {
    requests: 0, connections: 0, requestIds: [], keepConn: 0, maxConcurrent: 0, maxRequestsPerConnection: 0,
    paramsRecords: { min: 0, max: 0 }, pairSplits: 0, nonMinimalLengths: 0, unendedStreams: 0, padding: [],
    aborts: { abortRequest: 0, closed: 0 }, reactions: [], findings: {},
  };
  private readonly connections = new Set<number>();
  private paramsCounted = 0;

  get requests(): number {
    return this.s.requests;
  }

  add(o: Observed): void {
    const s = this.s;
    s.requests++;
    this.connections.add(o.connection);
    s.connections = this.connections.size;
    if (!s.requestIds.includes(o.requestId)) s.requestIds = [...s.requestIds, o.requestId].sort((a, b) => a - b);
    if (o.keepConn) s.keepConn++;
    s.maxConcurrent = Math.max(s.maxConcurrent, o.concurrent);
    s.maxRequestsPerConnection = Math.max(s.maxRequestsPerConnection, o.nth);
    if (o.params.ended) {
      const n = o.params.records;
      s.paramsRecords = this.paramsCounted++ === 0 ? { min: n, max: n } : { min: Math.min(s.paramsRecords.min, n), max: Math.max(s.paramsRecords.max, n) };
    }
    if (o.pairSplit) s.pairSplits++;
    s.nonMinimalLengths += lengthEncodings(o)?.nonMinimal ?? 0;
    if (!o.aborted && !o.error && (!o.params.ended || !o.stdin.ended)) s.unendedStreams++;
    if (o.records > 1 && !s.padding.includes(paddingText(o))) s.padding.push(paddingText(o));
    if (o.aborted === 'ABORT_REQUEST') s.aborts.abortRequest++;
    if (o.aborted === 'closed') s.aborts.closed++;
    if (o.reaction && !s.reactions.includes(o.reaction)) s.reactions.push(o.reaction);
    for (const f of o.findings) s.findings[f.code] = (s.findings[f.code] ?? 0) + 1;
  }

  summary(): ListenSummary {
    return structuredClone(this.s);
  }
}

export function summaryText(address: string, s: ListenSummary): string {
  if (s.requests === 0) return `fcgi conform --listen ${address}: no requests`;
  const lines = [
    `fcgi conform --listen ${address}: ${s.requests} request(s) on ${s.connections} connection(s)`,
    `  request ids:     ${s.requestIds.join(', ')}`,
    `  KEEP_CONN:       set on ${s.keepConn} of ${s.requests} requests; at most ${s.maxRequestsPerConnection} request(s) per connection`,
    `  multiplexing:    ${s.maxConcurrent > 1 ? `up to ${s.maxConcurrent} requests at once on a connection` : 'never (one request at a time per connection)'}`,
    `  PARAMS:          ${s.paramsRecords.min === s.paramsRecords.max ? s.paramsRecords.min : `${s.paramsRecords.min}-${s.paramsRecords.max}`} record(s) per request before the empty one; ${s.pairSplits} with a pair split; ${s.nonMinimalLengths} non-minimal length(s)`,
    `  stream ends:     ${s.unendedStreams === 0 ? 'PARAMS and STDIN always ended by an empty record' : `${s.unendedStreams} request(s) with PARAMS or STDIN never ended`}`,
    `  padding:         ${s.padding.join('; ')}`,
    `  aborts:          ${s.aborts.abortRequest} FCGI_ABORT_REQUEST, ${s.aborts.closed} closed connection(s)`,
  ];
  for (const r of s.reactions) lines.push(`  ${r}`);
  const f = Object.entries(s.findings);
  lines.push(`  findings:        ${f.length === 0 ? 'none' : f.map(([code, n]) => `${code} x${n}`).join(', ')}`);
  return lines.join('\n');
}
