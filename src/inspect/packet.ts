// One captured frame -> its TCP segment: link layer (Ethernet with VLAN tags, Linux cooked SLL and
// SLL2, BSD null/loop, raw IP), IPv4 or IPv6 (extension headers skipped), TCP. Anything else is null.

export interface TcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  flags: number;
  payload: Uint8Array;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;

export function tcpSegment(linkType: number, d: Uint8Array): TcpSegment | null {
  switch (linkType) {
    case 1: { // Ethernet
      let at = 12;
      let type = be16(d, at);
      while ((type === 0x8100 || type === 0x88a8) && d.length >= at + 6) {
        at += 4;
        type = be16(d, at);
      }
      return ethertype(type, d, at + 2);
    }
    case 113: // Linux cooked (SLL): protocol at 14, header 16 bytes
      return d.length < 16 ? null : ethertype(be16(d, 14), d, 16);
    case 276: // Linux cooked v2 (SLL2): protocol at 0, header 20 bytes
      return d.length < 20 ? null : ethertype(be16(d, 0), d, 20);
    case 0: // BSD null: address family in the capturing host's byte order
    case 108: { // OpenBSD loop: in network byte order
      if (d.length < 4) return null;
      const le = d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24);
      const be = (d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!;
      const family = linkType === 108 ? be : (le >>> 0) < 0x10000 ? le : be;
      if (family === 2) return ipv4(d, 4);
      if (family === 10 || family === 24 || family === 28 || family === 30) return ipv6(d, 4);
      return null;
    }
    case 101: // raw IP
    case 12:
    case 14:
    case 228: // IPv4
    case 229: // IPv6
      return d.length < 1 ? null : d[0]! >> 4 === 4 ? ipv4(d, 0) : d[0]! >> 4 === 6 ? ipv6(d, 0) : null;
    default:
      return null;
  }
}

function ethertype(type: number, d: Uint8Array, at: number): TcpSegment | null {
  if (type === ETHERTYPE_IPV4) return ipv4(d, at);
  if (type === ETHERTYPE_IPV6) return ipv6(d, at);
  return null;
}

function ipv4(d: Uint8Array, at: number): TcpSegment | null {
  if (d.length < at + 20 || d[at]! >> 4 !== 4) return null;
  const ihl = (d[at]! & 0x0f) * 4;
  const total = be16(d, at + 2);
  const frag = be16(d, at + 6);
  if (d[at + 9] !== 6 || (frag & 0x3fff) !== 0 || ihl < 20) return null; // not TCP, or a fragment
  // the IP length, not the frame's: Ethernet pads short frames; TSO captures may say 0
  const end = total >= ihl ? Math.min(d.length, at + total) : d.length;
  return tcp(d, at + ihl, end, at + 12, at + 16, false);
}

function ipv6(d: Uint8Array, at: number): TcpSegment | null {
  if (d.length < at + 40 || d[at]! >> 4 !== 6) return null;
  const payloadLength = be16(d, at + 4);
  const end = payloadLength > 0 ? Math.min(d.length, at + 40 + payloadLength) : d.length;
  let next = d[at + 6]!;
  let p = at + 40;
  // hop-by-hop, routing, destination options: skip; a fragment: not reassembled
  while (next === 0 || next === 43 || next === 60) {
    if (p + 2 > end) return null;
    next = d[p]!;
    p += (d[p + 1]! + 1) * 8;
  }
  if (next !== 6) return null;
  return tcp(d, p, end, at + 8, at + 24, true);
}

/** The segment; null for a bare ACK (no payload, no SYN, FIN or RST), which tells us nothing. */
function tcp(d: Uint8Array, at: number, end: number, srcAt: number, dstAt: number, v6: boolean): TcpSegment | null {
  if (end < at + 20) return null;
  const off = (d[at + 12]! >> 4) * 4;
  if (off < 20 || at + off > end) return null;
  const flags = d[at + 13]!;
  if (at + off === end && (flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0) return null;
  return {
    src: v6 ? ipv6Text(d, srcAt) : ipv4Text(d, srcAt),
    dst: v6 ? ipv6Text(d, dstAt) : ipv4Text(d, dstAt),
    srcPort: be16(d, at),
    dstPort: be16(d, at + 2),
    seq: ((d[at + 4]! << 24) | (d[at + 5]! << 16) | (d[at + 6]! << 8) | d[at + 7]!) >>> 0,
    flags,
    payload: d.subarray(at + off, end),
  };
}

function ipv4Text(d: Uint8Array, at: number): string {
  return `${d[at]}.${d[at + 1]}.${d[at + 2]}.${d[at + 3]}`;
}

function be16(d: Uint8Array, at: number): number {
  return (d[at]! << 8) | d[at + 1]!;
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as '::'. */
function ipv6Text(d: Uint8Array, at: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(be16(d, at + 2 * i));
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${d[at + 12]}.${d[at + 13]}.${d[at + 14]}.${d[at + 15]}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) (best = i), (bestLen = j - i);
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
