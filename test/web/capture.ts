// A small pcap for the page's tests, made here from FastCGI bytes that src/codec's Encoder frames: one TCP
// connection on 127.0.0.1 (Ethernet, IPv4, handshake, data in both directions, FIN), so the test knows
// every request, param and response the page must show.

import { Encoder, RecordType, Role, Flags } from '../../src/codec/index.js';

const text = new TextEncoder();

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** A request as nginx sends it: BEGIN (keep-conn), PARAMS, empty STDIN. */
export function request(e: Encoder, id: number, params: [string, string][]): Uint8Array {
  return concat([e.beginRequest(id, Role.RESPONDER, Flags.KEEP_CONN), e.pairs(id, params), ...e.stream(RecordType.STDIN, id, new Uint8Array(0), true)]);
}

/** A response as an application sends it: CGI headers and body on STDOUT, END_REQUEST. */
export function response(e: Encoder, id: number, cgi: string): Uint8Array {
  return concat(e.endOfRequest(id, 0, 0, text.encode(cgi)));
}

export const CLIENT_PORT = 41000;
export const SERVER_PORT = 9123;

interface Segment {
  fromClient: boolean;
  flags: number;
  payload: Uint8Array;
  time: number;
}
const SYN = 0x02, ACK = 0x10, PSH = 0x08, FIN = 0x01;

function ipChecksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * A classic pcap (Ethernet) of one TCP connection from CLIENT_PORT to SERVER_PORT carrying `exchanges`:
 * each request sent by the client, then its response from the server, `gap` seconds apart.
 */
export function pcapOf(exchanges: [Uint8Array, Uint8Array][], start = 1_700_000_000, gap = 0.002): Uint8Array {
  const segments: Segment[] = [];
  let t = start;
  const at = (): number => (t += gap / 4);
  segments.push({ fromClient: true, flags: SYN, payload: new Uint8Array(0), time: at() });
  segments.push({ fromClient: false, flags: SYN | ACK, payload: new Uint8Array(0), time: at() });
  segments.push({ fromClient: true, flags: ACK, payload: new Uint8Array(0), time: at() });
  for (const [req, res] of exchanges) {
    segments.push({ fromClient: true, flags: PSH | ACK, payload: req, time: at() });
    segments.push({ fromClient: false, flags: PSH | ACK, payload: res, time: at() });
    t += gap / 2;
  }
  segments.push({ fromClient: true, flags: FIN | ACK, payload: new Uint8Array(0), time: at() });
  segments.push({ fromClient: false, flags: FIN | ACK, payload: new Uint8Array(0), time: at() });

  const seq = { client: 1000, server: 5000 };
  const packets: Uint8Array[] = [];
  const header = new Uint8Array(24);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, 0xa1b2c3d4, true);
  hv.setUint16(4, 2, true);
  hv.setUint16(6, 4, true);
  hv.setUint32(16, 262144, true);
  hv.setUint32(20, 1, true); // LINKTYPE_ETHERNET
  packets.push(header);
  for (const s of segments) {
    const len = 14 + 20 + 20 + s.payload.length;
    const p = new Uint8Array(16 + len);
    const v = new DataView(p.buffer);
    v.setUint32(0, Math.floor(s.time), true);
    v.setUint32(4, Math.round((s.time % 1) * 1e6) % 1e6, true);
    v.setUint32(8, len, true);
    v.setUint32(12, len, true);
    const eth = 16;
    p.set([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2], eth);
    v.setUint16(eth + 12, 0x0800);
    const ip = eth + 14;
    p[ip] = 0x45;
    v.setUint16(ip + 2, 40 + s.payload.length);
    v.setUint16(ip + 6, 0x4000);
    p[ip + 8] = 64;
    p[ip + 9] = 6;
    p.set([127, 0, 0, 1, 127, 0, 0, 1], ip + 12);
    v.setUint16(ip + 10, ipChecksum(p.subarray(ip, ip + 20)));
    const tcp = ip + 20;
    const mine = s.fromClient ? 'client' : 'server';
    const theirs = s.fromClient ? 'server' : 'client';
    v.setUint16(tcp, s.fromClient ? CLIENT_PORT : SERVER_PORT);
    v.setUint16(tcp + 2, s.fromClient ? SERVER_PORT : CLIENT_PORT);
    v.setUint32(tcp + 4, seq[mine]);
    v.setUint32(tcp + 8, s.flags & ACK ? seq[theirs] : 0);
    p[tcp + 12] = 5 << 4;
    p[tcp + 13] = s.flags;
    v.setUint16(tcp + 14, 65535);
    p.set(s.payload, tcp + 20);
    seq[mine] = (seq[mine] + s.payload.length + (s.flags & (SYN | FIN) ? 1 : 0)) >>> 0;
    packets.push(p);
  }
  return concat(packets);
}
