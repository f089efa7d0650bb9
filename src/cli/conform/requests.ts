// The requests the probes send, every byte framed by the codec's Encoder: the plain request a web
// server sends, and the legal but unusual framings the probes ask peers about (a pair split across
// PARAMS records, four-byte lengths for short names, padding 0 and 255, streams interleaved).

import type { Encoder } from '../../codec/encoder.js';
import { RecordType, Role } from '../../codec/constants.js';

export type Params = [string, string][];

export interface RequestSpec {
  id: number;
  role?: number;
  flags?: number;
  params: Params;
  /** FCGI_STDIN bytes (the empty record that ends the stream always follows). */
  body?: Uint8Array;
  /** FCGI_DATA bytes, for the Filter role (then the empty DATA record). */
  data?: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** The request as a web server sends it: BEGIN_REQUEST, packed PARAMS, STDIN (and DATA), each ended. */
export function plainRequest(e: Encoder, r: RequestSpec): Uint8Array[] {
  const parts = e.requestStart(r.id, r.role ?? Role.RESPONDER, r.flags ?? 0, r.params, r.body ?? EMPTY);
  if (r.data !== undefined) parts.push(...e.stream(RecordType.DATA, r.id, r.data, true));
  return parts;
}

/** The rest of a request after its PARAMS: the empty PARAMS record, then STDIN with its end. */
function afterParams(e: Encoder, r: RequestSpec): Uint8Array[] {
  return [e.record(RecordType.PARAMS, r.id), ...e.stream(RecordType.STDIN, r.id, r.body ?? EMPTY, true)];
}

/**
 * The params' pairs cut into three PARAMS records: after the first pair's name length (a cut inside a
 * pair, whatever the params are) and in the middle of the body. Legal (spec 3.3: a stream's value does
 * not depend on how its bytes are divided among records); php-fpm rejects it (php-src issue #16042).
 */
export function splitPairRequest(e: Encoder, r: RequestSpec): Uint8Array[] {
  const body = e.pairsBody(r.params);
  const middle = Math.max(2, body.length >> 1);
  const pieces = [body.subarray(0, 1), body.subarray(1, middle), body.subarray(middle)];
  return [e.beginRequest(r.id, r.role ?? Role.RESPONDER, r.flags ?? 0), ...pieces.map((p) => e.record(RecordType.PARAMS, r.id, p)), ...afterParams(e, r)];
}

/** Every name and value length in the four-byte form, short ones too (spec 3.4; vector N05). */
export function fourByteLengthRequest(e: Encoder, r: RequestSpec): Uint8Array[] {
  const body = e.pairsBody(r.params, { fourByteLengths: true });
  return [e.beginRequest(r.id, r.role ?? Role.RESPONDER, r.flags ?? 0), e.record(RecordType.PARAMS, r.id, body), ...afterParams(e, r)];
}

/**
 * Every record padded with `padding` bytes (0-255), one PARAMS record per pair so that most contents
 * have odd lengths: padding 0 leaves them unaligned, as mod_fastcgi sends them (vector L04).
 */
export function paddedRequest(e: Encoder, r: RequestSpec, padding: number): Uint8Array[] {
  const begin = e.beginRequest(r.id, r.role ?? Role.RESPONDER, r.flags ?? 0).subarray(8);
  return [
    e.record(RecordType.BEGIN_REQUEST, r.id, begin, padding),
    ...r.params.map((pair) => e.record(RecordType.PARAMS, r.id, e.pairsBody([pair]), padding)),
    e.record(RecordType.PARAMS, r.id, EMPTY, padding),
    ...(r.body && r.body.length > 0 ? [e.record(RecordType.STDIN, r.id, r.body, padding)] : []),
    e.record(RecordType.STDIN, r.id, EMPTY, padding),
  ];
}

/**
 * Requests `a` and `b` on one connection with their records interleaved: BEGIN a, BEGIN b, PARAMS a,
 * PARAMS b, the ends of both PARAMS, the ends of both STDIN (spec Appendix B example 4; vector X04).
 */
export function interleavedRequests(e: Encoder, a: RequestSpec, b: RequestSpec): Uint8Array[] {
  const begin = (r: RequestSpec) => e.beginRequest(r.id, r.role ?? Role.RESPONDER, r.flags ?? 0);
  return [
    begin(a), begin(b),
    e.pairs(a.id, a.params, RecordType.PARAMS, false), e.pairs(b.id, b.params, RecordType.PARAMS, false),
    e.record(RecordType.PARAMS, a.id), e.record(RecordType.PARAMS, b.id),
    e.record(RecordType.STDIN, a.id), e.record(RecordType.STDIN, b.id),
  ];
}

/** `params` for a POST of `length` body bytes, CONTENT_LENGTH included or left out. */
export function postParams(params: Params, length: number, contentLength = true): Params {
  const out = params.filter(([n]) => n !== 'REQUEST_METHOD' && n !== 'CONTENT_LENGTH' && n !== 'CONTENT_TYPE');
  out.push(['REQUEST_METHOD', 'POST'], ['CONTENT_TYPE', 'application/octet-stream']);
  if (contentLength) out.push(['CONTENT_LENGTH', String(length)]);
  return out;
}

/** `length` bytes of printable filler (a body or a value). */
export function filler(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = 0x61 + (i % 26);
  return out;
}
