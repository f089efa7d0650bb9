// Hand-made captures for the inspector's tests: TCP connections (handshake, data segments, FINs) framed
// for a chosen link type (Ethernet, Linux SLL/SLL2, BSD null) over IPv4 or IPv6, written as pcap or
// pcapng. The segments can be reordered or repeated to stand for out-of-order and retransmitted ones.

import { concat } from '../codec/bytes.js';

export { concat };

export const LINK = { NULL: 0, ETHERNET: 1, LOOP: 108, SLL: 113, SLL2: 276 } as const;

export interface Frame {
  time: number; // ms since the epoch
  data: Uint8Array;
}

export interface Segment {
  side: 0 | 1; // 0: the client (the SYN sender)
  /** Sequence offset relative to the side's first data byte (0 = the first byte after the SYN). */
  rel: number;
  data: Uint8Array;
  flags: number;
}

const SYN = 0x02, ACK = 0x10, FIN = 0x01, PSH = 0x08;

export interface ConnectionSpec {
  v6?: boolean;
  client?: [string, number];
  server?: [string, number];
  /** Bytes each side sends, in the order given: [side, bytes]. */
  sends: [0 | 1, Uint8Array][];
  /** Largest payload per segment. */
  mss?: number;
  /** Leave out the handshake (a capture that began mid-connection). */
  noHandshake?: boolean;
  /** Leave out the FINs. */
  noFin?: boolean;
}

const ISN: [number, number] = [0xfffff000, 1000]; // the client's wraps around 2^32 early on

/** The segments of one connection, in sending order. */
export function segments(spec: ConnectionSpec): Segment[] {
  const mss = spec.mss ?? 1000;
  const out: Segment[] = [];
  const sent: [number, number] = [0, 0];
  if (!spec.noHandshake) {
    out.push({ side: 0, rel: -1, data: new Uint8Array(0), flags: SYN });
    out.push({ side: 1, rel: -1, data: new Uint8Array(0), flags: SYN | ACK });
    out.push({ side: 0, rel: 0, data: new Uint8Array(0), flags: ACK });
  }
  for (const [side, bytes] of spec.sends) {
    for (let at = 0; at < bytes.length; at += mss) {
      const data = bytes.subarray(at, Math.min(bytes.length, at + mss));
      out.push({ side, rel: sent[side], data, flags: ACK | PSH });
      sent[side] += data.length;
    }
  }
  if (!spec.noFin) {
    out.push({ side: 0, rel: sent[0], data: new Uint8Array(0), flags: FIN | ACK });
    out.push({ side: 1, rel: sent[1], data: new Uint8Array(0), flags: FIN | ACK });
  }
  return out;
}

/** Each segment as a link-layer frame, 1 ms apart from `start`. */
export function frames(spec: ConnectionSpec, segs: Segment[], link: number, start = 1_700_000_000_000): Frame[] {
  const v6 = spec.v6 ?? false;
  const client = spec.client ?? (v6 ? ['::1', 40000] : ['127.0.0.1', 40000]);
  const server = spec.server ?? (v6 ? ['::1', 9000] : ['127.0.0.1', 9000]);
  return segs.map((s, i) => {
    const [src, dst] = s.side === 0 ? [client, server] : [server, client];
    const seq = (ISN[s.side] + 1 + s.rel) >>> 0;
    const tcp = tcpHeader(src[1], dst[1], seq, s.flags, s.data);
    const ip = v6 ? ipv6(src[0], dst[0], tcp) : ipv4(src[0], dst[0], tcp);
    return { time: start + i, data: linkFrame(link, v6, ip) };
  });
}

function tcpHeader(sport: number, dport: number, seq: number, flags: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint32(4, seq);
  v.setUint32(8, 0);
  b[12] = 5 << 4;
  b[13] = flags;
  v.setUint16(14, 65535);
  b.set(payload, 20);
  return b;
}

function ipv4(src: string, dst: string, tcp: Uint8Array): Uint8Array {
  const b = new Uint8Array(20 + tcp.length);
  const v = new DataView(b.buffer);
  b[0] = 0x45;
  v.setUint16(2, b.length);
  v.setUint16(6, 0x4000); // don't fragment
  b[8] = 64;
  b[9] = 6;
  b.set(src.split('.').map(Number), 12);
  b.set(dst.split('.').map(Number), 16);
  b.set(tcp, 20);
  return b;
}

function ipv6(src: string, dst: string, tcp: Uint8Array): Uint8Array {
  const b = new Uint8Array(40 + tcp.length);
  const v = new DataView(b.buffer);
  b[0] = 0x60;
  v.setUint16(4, tcp.length);
  b[6] = 6;
  b[7] = 64;
  b.set(v6bytes(src), 8);
  b.set(v6bytes(dst), 24);
  b.set(tcp, 40);
  return b;
}

function v6bytes(a: string): Uint8Array {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = new Uint8Array(16);
  groups.forEach((g, i) => new DataView(b.buffer).setUint16(2 * i, parseInt(g, 16)));
  return b;
}

function linkFrame(link: number, v6: boolean, ip: Uint8Array): Uint8Array {
  const ethertype = v6 ? 0x86dd : 0x0800;
  let head: Uint8Array;
  switch (link) {
    case LINK.ETHERNET:
      head = new Uint8Array(14);
      new DataView(head.buffer).setUint16(12, ethertype);
      break;
    case LINK.SLL:
      head = new Uint8Array(16);
      new DataView(head.buffer).setUint16(2, 772); // ARPHRD_LOOPBACK
      new DataView(head.buffer).setUint16(14, ethertype);
      break;
    case LINK.SLL2:
      head = new Uint8Array(20);
      new DataView(head.buffer).setUint16(0, ethertype);
      new DataView(head.buffer).setUint16(8, 772);
      break;
    case LINK.NULL:
      head = new Uint8Array(4);
      new DataView(head.buffer).setUint32(0, v6 ? 30 : 2, true); // a little-endian host (macOS: AF_INET6 30)
      break;
    case LINK.LOOP:
      head = new Uint8Array(4);
      new DataView(head.buffer).setUint32(0, v6 ? 24 : 2, false);
      break;
    default:
      throw new Error(`no framing for link type ${link}`);
  }
  const out = new Uint8Array(head.length + ip.length);
  out.set(head);
  out.set(ip, head.length);
  return out;
}

/** A pcap file (microsecond or nanosecond timestamps; little- or big-endian). */
export function pcap(link: number, list: Frame[], options: { nano?: boolean; bigEndian?: boolean } = {}): Uint8Array {
  const le = !options.bigEndian;
  const parts: Uint8Array[] = [];
  const h = new DataView(new ArrayBuffer(24));
  h.setUint32(0, options.nano ? 0xa1b23c4d : 0xa1b2c3d4, le);
  h.setUint16(4, 2, le);
  h.setUint16(6, 4, le);
  h.setUint32(16, 262144, le);
  h.setUint32(20, link, le);
  parts.push(new Uint8Array(h.buffer));
  for (const f of list) {
    const r = new DataView(new ArrayBuffer(16));
    const sec = Math.floor(f.time / 1000);
    r.setUint32(0, sec, le);
    r.setUint32(4, Math.round((f.time - sec * 1000) * (options.nano ? 1e6 : 1e3)), le);
    r.setUint32(8, f.data.length, le);
    r.setUint32(12, f.data.length, le);
    parts.push(new Uint8Array(r.buffer), f.data);
  }
  return concat(parts);
}

/** A pcapng file: one section, one interface (nanosecond timestamps), enhanced packet blocks. */
export function pcapng(link: number, list: Frame[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const block = (type: number, body: Uint8Array): void => {
    const padded = (body.length + 3) & ~3;
    const b = new DataView(new ArrayBuffer(12 + padded));
    b.setUint32(0, type, true);
    b.setUint32(4, 12 + padded, true);
    new Uint8Array(b.buffer).set(body, 8);
    b.setUint32(8 + padded, 12 + padded, true);
    parts.push(new Uint8Array(b.buffer));
  };
  const shb = new DataView(new ArrayBuffer(16));
  shb.setUint32(0, 0x1a2b3c4d, true);
  shb.setUint16(4, 1, true);
  shb.setBigInt64(8, -1n, true);
  block(0x0a0d0d0a, new Uint8Array(shb.buffer));
  const idb = new DataView(new ArrayBuffer(8 + 8 + 4));
  idb.setUint16(0, link, true);
  idb.setUint32(4, 262144, true);
  idb.setUint16(8, 9, true); // if_tsresol
  idb.setUint16(10, 1, true);
  idb.setUint8(12, 9); // 10^-9
  block(1, new Uint8Array(idb.buffer)); // the end-of-options is the zero bytes after
  for (const f of list) {
    const ns = BigInt(Math.round(f.time * 1e6));
    const epb = new DataView(new ArrayBuffer(20 + f.data.length));
    epb.setUint32(0, 0, true);
    epb.setUint32(4, Number(ns >> 32n), true);
    epb.setUint32(8, Number(ns & 0xffffffffn), true);
    epb.setUint32(12, f.data.length, true);
    epb.setUint32(16, f.data.length, true);
    new Uint8Array(epb.buffer).set(f.data, 20);
    block(6, new Uint8Array(epb.buffer));
  }
  return concat(parts);
}
