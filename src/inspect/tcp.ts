// TCP reassembly per connection and direction: bytes handed on in sequence order, once each.
// Retransmitted bytes (wholly or partly seen) are dropped, out-of-order segments wait for the gap to
// fill (up to a bound of bytes held), and a reused 4-tuple (a new SYN) starts a new connection.

import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment } from './packet.js';
import type { Endpoint } from './types.js';

/** Out-of-order bytes held per direction before the gap is declared lost. */
const MAX_PENDING = 8 << 20;

interface Pending {
  seq: number;
  data: Uint8Array;
  time: number | undefined;
  frame: number;
}

class Flow {
  /** Next sequence number expected (null until the first segment or SYN). */
  next: number | null = null;
  /** Bytes handed on so far: the stream offset of `next`. */
  delivered = 0;
  pending: Pending[] = [];
  pendingBytes = 0;
  finAt: number | null = null;
  finished = false;
  lost = false;
  sawSyn = false;
}

export interface TcpEvents<C> {
  /**
   * A new connection; `first` sent the first segment seen. `midstream`: that segment was no SYN (the
   * capture began inside the connection, so its streams may begin inside a record).
   */
  open(first: Endpoint, second: Endpoint, midstream: boolean): C;
  /** In-order bytes of side 0 (from `first`) or side 1. */
  data(conn: C, side: 0 | 1, bytes: Uint8Array, time: number | undefined, frame: number): void;
  /** Bytes missing before stream offset `at` of one side: nothing more of it will come. */
  gap(conn: C, side: 0 | 1, at: number, missing: number): void;
  /** One side finished (FIN, all its bytes delivered). */
  fin(conn: C, side: 0 | 1): void;
  /** The connection is over: both FINs, an RST, or (eof) the end of the capture. */
  close(conn: C, reason: 'closed' | 'eof'): void;
}

interface Connection<C> {
  key: string;
  a: string;
  user: C;
  flows: [Flow, Flow];
  closed: boolean;
}

export class TcpReassembler<C> {
  private readonly conns = new Map<string, Connection<C>>();
  private readonly events: TcpEvents<C>;

  constructor(events: TcpEvents<C>) {
    this.events = events;
  }

  segment(s: TcpSegment, time: number | undefined, frame: number): void {
    const from = `${s.src}|${s.srcPort}`;
    const to = `${s.dst}|${s.dstPort}`;
    const key = from < to ? `${from}|${to}` : `${to}|${from}`;
    let c = this.conns.get(key);
    const syn = (s.flags & TCP_SYN) !== 0;
    if (c && syn && !(s.flags & TCP_ACK)) {
      // a SYN on a known 4-tuple: the port was reused for a new connection (or the SYN was retransmitted)
      const f = c.flows[c.a === from ? 0 : 1];
      if (c.closed || (f.sawSyn && f.next !== ((s.seq + 1) >>> 0)) || f.delivered > 0) {
        this.finish(c, c.closed ? 'closed' : 'eof');
        c = undefined;
      }
    }
    if (!c) {
      // a late ACK or RST of a connection that ended before the capture began: nothing to open
      if (s.flags & TCP_RST || (!syn && s.payload.length === 0)) return;
      c = { key, a: from, user: this.events.open({ address: s.src, port: s.srcPort }, { address: s.dst, port: s.dstPort }, !syn), flows: [new Flow(), new Flow()], closed: false };
      this.conns.set(key, c);
    }
    if (c.closed) return;
    const side: 0 | 1 = c.a === from ? 0 : 1;
    const f = c.flows[side];
    let seq = s.seq;
    if (syn) {
      f.sawSyn = true;
      seq = (seq + 1) >>> 0;
      if (f.next === null || f.delivered === 0) f.next = seq;
    }
    if (f.next === null) f.next = seq;
    if (s.payload.length > 0 && !f.lost) this.accept(c, side, seq, s.payload, time, frame);
    if (s.flags & TCP_FIN) {
      f.finAt = (seq + s.payload.length) >>> 0;
      this.checkFin(c, side);
    }
    if (s.flags & TCP_RST) this.finish(c, 'closed');
  }

  /** The end of the capture: every connection still open ends here. */
  end(): void {
    for (const c of this.conns.values()) this.finish(c, 'eof');
    this.conns.clear();
  }

  private accept(c: Connection<C>, side: 0 | 1, seq: number, data: Uint8Array, time: number | undefined, frame: number): void {
    const f = c.flows[side];
    const diff = (seq - f.next!) | 0;
    if (diff > 0) {
      // ahead of what we have: wait for the gap to fill
      f.pending.push({ seq, data, time, frame });
      f.pendingBytes += data.length;
      if (f.pendingBytes > MAX_PENDING) this.lose(c, side);
      return;
    }
    if (data.length + diff <= 0) return; // a retransmission of bytes already handed on
    this.deliver(c, side, data.subarray(-diff), time, frame);
    this.drain(c, side);
  }

  private deliver(c: Connection<C>, side: 0 | 1, bytes: Uint8Array, time: number | undefined, frame: number): void {
    const f = c.flows[side];
    f.next = (f.next! + bytes.length) >>> 0;
    f.delivered += bytes.length;
    this.events.data(c.user, side, bytes, time, frame);
  }

  /** Hands on the waiting segments that now follow on. */
  private drain(c: Connection<C>, side: 0 | 1): void {
    const f = c.flows[side];
    for (let moved = true; moved && f.pending.length > 0; ) {
      moved = false;
      for (let i = 0; i < f.pending.length; i++) {
        const p = f.pending[i]!;
        const diff = (p.seq - f.next!) | 0;
        if (diff > 0) continue;
        f.pending.splice(i, 1);
        f.pendingBytes -= p.data.length;
        if (p.data.length + diff > 0) this.deliver(c, side, p.data.subarray(-diff), p.time, p.frame);
        moved = true;
        break;
      }
    }
  }

  /** The bytes before the earliest waiting segment never came: report the gap; the side is done. */
  private lose(c: Connection<C>, side: 0 | 1): void {
    const f = c.flows[side];
    if (f.lost || f.pending.length === 0) return;
    let missing = Infinity;
    for (const p of f.pending) missing = Math.min(missing, (p.seq - f.next!) | 0);
    f.lost = true;
    f.pending = [];
    f.pendingBytes = 0;
    this.events.gap(c.user, side, f.delivered, missing);
  }

  private checkFin(c: Connection<C>, side: 0 | 1): void {
    const f = c.flows[side];
    if (f.finished || f.finAt === null || (f.next !== f.finAt && !f.lost)) return;
    f.finished = true;
    this.events.fin(c.user, side);
    if (c.flows[0].finished && c.flows[1].finished) this.finish(c, 'closed');
  }

  /** Ends a connection; it stays in the table (closed) so that its late segments open nothing new. */
  private finish(c: Connection<C>, reason: 'closed' | 'eof'): void {
    const wasClosed = c.closed;
    c.closed = true;
    for (const side of [0, 1] as const) if (c.flows[side].pending.length > 0) this.lose(c, side);
    if (!wasClosed) this.events.close(c.user, reason);
  }
}
