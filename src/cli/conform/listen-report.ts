// What `fcgi conform --listen` saw a web server send: per request (the text the app answers with and
// prints), and summed over the run (the summary printed at exit).

import type { Finding } from '../../inspect/types.js';
import { Role } from '../../codec/constants.js';

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
  paramsRecords: number[];
  paramsEnded: boolean;
  /** A pair was left partial at the end of a PARAMS record (it went on in the next). */
  pairSplit: boolean;
  pairs: [string, string][];
  stdinRecords: number[];
  stdinEnded: boolean;
  dataRecords: number[];
  dataEnded: boolean;
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
const sum = (a: number[]): number => a.reduce((n, x) => n + x, 0);
const lengthSize = (n: number): number => (n > 127 ? 4 : 1);

/**
 * How the pair lengths were written, from sizes alone: the PARAMS content minus what the pairs take
 * with minimal lengths is 3 bytes per length written in four bytes below 128 (spec 3.4).
 */
export function lengthEncodings(o: Observed): { fourByte: number; nonMinimal: number } | null {
  if (o.error || !o.paramsEnded) return null;
  let minimal = 0;
  let fourByte = 0;
  for (const [n, v] of o.pairs) {
    minimal += lengthSize(n.length) + lengthSize(v.length) + n.length + v.length;
    fourByte += (n.length > 127 ? 1 : 0) + (v.length > 127 ? 1 : 0);
  }
  const nonMinimal = (sum(o.paramsRecords) - minimal) / 3;
  return { fourByte: fourByte + nonMinimal, nonMinimal };
}

const records = (lengths: number[], ended: boolean): string =>
  `${lengths.length} record${lengths.length === 1 ? '' : 's'}${lengths.length ? ` (${lengths.join(', ')} bytes)` : ''}${ended ? ' + the empty record' : ', never ended'}`;

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
  lines.push(`  PARAMS: ${records(o.paramsRecords, o.paramsEnded)}; ${o.pairs.length} pairs; ${o.pairSplit ? 'a pair split across records' : 'no pair split'}; ${lengths}`);
  lines.push(`  STDIN:  ${records(o.stdinRecords, o.stdinEnded)}, ${sum(o.stdinRecords)} bytes`);
  if (o.role === Role.FILTER) lines.push(`  DATA:   ${records(o.dataRecords, o.dataEnded)}, ${sum(o.dataRecords)} bytes`);
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
  reactions: string[];
  findings: Record<string, number>;
}

export function summarize(all: Observed[]): ListenSummary {
  const counts = all.filter((o) => o.paramsEnded).map((o) => o.paramsRecords.length);
  const findings: Record<string, number> = {};
  for (const o of all) for (const f of o.findings) findings[f.code] = (findings[f.code] ?? 0) + 1;
  return {
    requests: all.length,
    connections: new Set(all.map((o) => o.connection)).size,
    requestIds: [...new Set(all.map((o) => o.requestId))].sort((a, b) => a - b),
    keepConn: all.filter((o) => o.keepConn).length,
    maxConcurrent: Math.max(0, ...all.map((o) => o.concurrent)),
    maxRequestsPerConnection: Math.max(0, ...all.map((o) => o.nth)),
    paramsRecords: { min: counts.length ? Math.min(...counts) : 0, max: Math.max(0, ...counts) },
    pairSplits: all.filter((o) => o.pairSplit).length,
    nonMinimalLengths: sum(all.map((o) => lengthEncodings(o)?.nonMinimal ?? 0)),
    unendedStreams: all.filter((o) => !o.aborted && !o.error && (!o.paramsEnded || !o.stdinEnded)).length,
    padding: [...new Set(all.filter((o) => o.records > 1).map(paddingText))],
    aborts: { abortRequest: all.filter((o) => o.aborted === 'ABORT_REQUEST').length, closed: all.filter((o) => o.aborted === 'closed').length },
    reactions: all.flatMap((o) => (o.reaction ? [o.reaction] : [])),
    findings,
  };
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
