// pcap and pcapng files read incrementally: bytes pushed in pieces of any size, packets handed on as
// soon as they are whole (as views of the pushed piece when they lie inside one). A block's declared
// length is checked against a bound before anything waits for it, and only bytes that arrived are kept.

import { InspectInputError } from './findings.js';
import { concatBytes } from '../codec/bytes.js';

export interface CapturedPacket {
  /** Link-layer type (LINKTYPE_* numbers: 1 Ethernet, 113 Linux SLL, 276 SLL2, 0 null, 108 loop, 101 raw). */
  linkType: number;
  data: Uint8Array;
  /** Milliseconds since the Unix epoch; undefined for pcapng simple packets. */
  time: number | undefined;
  /** 1-based frame number. */
  frame: number;
}

/** Largest packet or block accepted: far above any snapshot length tcpdump or tshark use. */
const MAX_BLOCK = 16 << 20;

/** Pushed bytes not consumed yet. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  size = 0;
  /** Input offset of the first byte held. */
  consumed = 0;
  push(c: Uint8Array): void {
    if (c.length === 0) return;
    this.chunks.push(c);
    this.size += c.length;
  }
  /** The first n bytes (n <= size): a view when they lie in one chunk, else a copy of those n bytes. */
  peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const parts: Uint8Array[] = [];
    let need = n;
    for (let i = 0, at = this.head; need > 0; i++, at = 0) {
      const c = this.chunks[i]!;
      const take = Math.min(need, c.length - at);
      parts.push(c.subarray(at, at + take));
      need -= take;
    }
    const joined = concatBytes(parts, n);
    // keep the joined bytes as the queue's front, so that a later peek does not join them again
    this.skip(n);
    if (this.head > 0) this.chunks[0] = this.chunks[0]!.subarray(this.head);
    this.chunks.unshift(joined);
    this.head = 0;
    this.size += n;
    this.consumed -= n;
    return joined;
  }
  skip(n: number): void {
    this.size -= n;
    this.consumed += n;
    while (n > 0) {
      const c = this.chunks[0]!;
      const left = c.length - this.head;
      if (n < left) {
        this.head += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.head = 0;
    }
  }
}

interface Interface {
  linkType: number;
  /** Timestamp units per millisecond. */
  unitsPerMs: number;
  offsetMs: number;
}

export class CaptureReader {
  private readonly q = new ByteQueue();
  private readonly onPacket: (p: CapturedPacket) => void;
  private started = false;
  private ng = false;
  private little = true;
  private linkType = 0;
  private unitsPerMs = 1000;
  private maxPacket = MAX_BLOCK;
  private interfaces: Interface[] = [];
  private frame = 0;
  private failed = false;

  constructor(onPacket: (p: CapturedPacket) => void) {
    this.onPacket = onPacket;
  }

  get packets(): number {
    return this.frame;
  }
  get format(): 'pcap' | 'pcapng' {
    return this.ng ? 'pcapng' : 'pcap';
  }

  /** Throws InspectInputError on a file that is neither pcap nor pcapng, or a block that cannot be. */
  push(chunk: Uint8Array): void {
    if (this.failed) return;
    this.q.push(chunk);
    try {
      this.ng ? this.readBlocks() : this.started ? this.readPackets() : this.readStart();
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  /** Bytes left over at the end: the file stopped inside a block (a capture cut short). */
  end(): { leftover: number; at: number } | null {
    return this.q.size > 0 && !this.failed ? { leftover: this.q.size, at: this.q.consumed } : null;
  }

  private readStart(): void {
    if (this.q.size < 4) return;
    const m = this.q.peek(4);
    const magic = ((m[0]! << 24) | (m[1]! << 16) | (m[2]! << 8) | m[3]!) >>> 0;
    if (magic === 0x0a0d0d0a) {
      this.ng = true;
      this.started = true;
      return this.readBlocks();
    }
    if (this.q.size < 24) return;
    const h = this.q.peek(24);
    const v = new DataView(h.buffer, h.byteOffset, 24);
    const le = v.getUint32(0, true);
    const be = v.getUint32(0, false);
    let nano: boolean;
    if (le === 0xa1b2c3d4 || le === 0xa1b23c4d) (this.little = true), (nano = le === 0xa1b23c4d);
    else if (be === 0xa1b2c3d4 || be === 0xa1b23c4d) (this.little = false), (nano = be === 0xa1b23c4d);
    else throw new InspectInputError('BAD_CAPTURE', 'not a pcap or pcapng file (unknown magic number)', 0);
    this.unitsPerMs = nano ? 1e6 : 1e3;
    const snap = v.getUint32(16, this.little);
    this.maxPacket = Math.min(MAX_BLOCK, Math.max(snap, 262144));
    this.linkType = v.getUint32(20, this.little) & 0xffff;
    this.q.skip(24);
    this.started = true;
    this.readPackets();
  }

  private readPackets(): void {
    const q = this.q;
    const u32 = this.little ? le32 : be32;
    while (q.size >= 16) {
      const h = q.peek(16);
      const caplen = u32(h, 8);
      if (caplen > this.maxPacket) throw new InspectInputError('BAD_CAPTURE', `a pcap packet declares ${caplen} captured bytes, more than the file's limit ${this.maxPacket}`, q.consumed);
      if (q.size < 16 + caplen) return;
      const time = u32(h, 0) * 1000 + u32(h, 4) / this.unitsPerMs;
      const rec = q.peek(16 + caplen);
      q.skip(16 + caplen);
      this.onPacket({ linkType: this.linkType, data: rec.subarray(16), time, frame: ++this.frame });
    }
  }

  private readBlocks(): void {
    const q = this.q;
    while (q.size >= 12) {
      const h = q.peek(12);
      const v = new DataView(h.buffer, h.byteOffset, 12);
      const type = v.getUint32(0, this.little);
      if (type === 0x0a0d0d0a) {
        const bom = v.getUint32(8, true);
        if (bom === 0x1a2b3c4d) this.little = true;
        else if (bom === 0x4d3c2b1a) this.little = false;
        else throw new InspectInputError('BAD_CAPTURE', 'a pcapng section header with an unknown byte-order magic', q.consumed);
      }
      const len = v.getUint32(4, this.little);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) throw new InspectInputError('BAD_CAPTURE', `a pcapng block declares a length of ${len} bytes`, q.consumed);
      if (q.size < len) return;
      const b = q.peek(len);
      const at = q.consumed;
      q.skip(len);
      this.block(type === 0x0a0d0d0a ? type : v.getUint32(0, this.little), b, at);
    }
  }

  private block(type: number, b: Uint8Array, at: number): void {
    const v = new DataView(b.buffer, b.byteOffset, b.length);
    const le = this.little;
    switch (type) {
      case 0x0a0d0d0a: // section header: interfaces are numbered afresh
        this.interfaces = [];
        return;
      case 1: { // interface description
        if (b.length < 20) throw new InspectInputError('BAD_CAPTURE', 'a pcapng interface block too short', at);
        const iface: Interface = { linkType: v.getUint16(8, le), unitsPerMs: 1000, offsetMs: 0 };
        for (let o = 16; o + 4 <= b.length - 4; ) {
          const code = v.getUint16(o, le);
          const olen = v.getUint16(o + 2, le);
          if (code === 0 || o + 4 + olen > b.length - 4) break;
          if (code === 9 && olen >= 1) {
            const r = b[o + 4]!;
            const perSecond = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
            iface.unitsPerMs = perSecond / 1000;
          } else if (code === 14 && olen >= 8) {
            iface.offsetMs = Number(v.getBigInt64(o + 4, le)) * 1000;
          }
          o += 4 + ((olen + 3) & ~3);
        }
        this.interfaces.push(iface);
        return;
      }
      case 6: // enhanced packet
      case 2: { // packet (obsolete)
        if (b.length < 32) throw new InspectInputError('BAD_CAPTURE', 'a pcapng packet block too short', at);
        const ifIndex = type === 6 ? v.getUint32(8, le) : v.getUint16(8, le);
        const iface = this.interfaces[ifIndex];
        if (!iface) throw new InspectInputError('BAD_CAPTURE', `a pcapng packet names interface ${ifIndex}, which was not described`, at);
        const caplen = v.getUint32(20, le);
        if (caplen > b.length - 32) throw new InspectInputError('BAD_CAPTURE', `a pcapng packet declares ${caplen} bytes in a ${b.length}-byte block`, at);
        const ts = v.getUint32(12, le) * 4294967296 + v.getUint32(16, le);
        this.onPacket({ linkType: iface.linkType, data: b.subarray(28, 28 + caplen), time: ts / iface.unitsPerMs + iface.offsetMs, frame: ++this.frame });
        return;
      }
      case 3: { // simple packet: interface 0, no timestamp
        const iface = this.interfaces[0];
        if (!iface || b.length < 16) throw new InspectInputError('BAD_CAPTURE', 'a pcapng simple packet with no interface described', at);
        const caplen = Math.min(v.getUint32(8, le), b.length - 16);
        this.onPacket({ linkType: iface.linkType, data: b.subarray(12, 12 + caplen), time: undefined, frame: ++this.frame });
        return;
      }
      default: // statistics, name resolution, custom blocks: nothing for us
        return;
    }
  }
}

function le32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}
function be32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** True when the bytes start like a pcap or pcapng file. */
export function looksLikeCapture(head: Uint8Array): 'pcap' | 'pcapng' | null {
  if (head.length < 4) return null;
  const m = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  if (m === 0x0a0d0d0a) return 'pcapng';
  if (m === 0xa1b2c3d4 || m === 0xd4c3b2a1 || m === 0xa1b23c4d || m === 0x4d3cb2a1) return 'pcap';
  return null;
}
