// The page tests' capture: one TCP connection on 127.0.0.1 (Ethernet, IPv4, handshake, FINs; made by the
// inspector tests' pcap builder) carrying FastCGI bytes framed by src/codec's Encoder, so the test knows
// every request, param and response the page must show.

import { Encoder, RecordType, Role, Flags } from '../../src/codec/index.js';
import { concat } from '../codec/bytes.js';
import { LINK, frames, pcap, segments, type ConnectionSpec } from '../inspect/pcap-builder.js';

export { concat };
const text = new TextEncoder();

/** A request as nginx sends it: BEGIN (keep-conn), PARAMS, empty STDIN. */
export function request(e: Encoder, id: number, params: [string, string][]): Uint8Array {
  return concat([e.beginRequest(id, Role.RESPONDER, Flags.KEEP_CONN), e.pairs(id, params), ...e.stream(RecordType.STDIN, id, new Uint8Array(0), true)]);
}

/** A response as an application sends it: CGI headers and body on STDOUT, END_REQUEST. */
export function response(e: Encoder, id: number, cgi: string): Uint8Array {
  return concat(e.endOfRequest(id, 0, 0, text.encode(cgi)));
}

/** A classic pcap of one connection: each request from the web server, then its response from the app. */
export function pcapOf(exchanges: [Uint8Array, Uint8Array][]): Uint8Array {
  const spec: ConnectionSpec = { sends: exchanges.flatMap(([req, res]) => [[0, req], [1, res]] as [0 | 1, Uint8Array][]) };
  return pcap(LINK.ETHERNET, frames(spec, segments(spec), LINK.ETHERNET));
}
