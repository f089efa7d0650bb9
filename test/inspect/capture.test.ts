// Hand-made captures: every link type and IPv6, pcap in both byte orders and timestamp resolutions,
// pcapng; TCP segments out of order, retransmitted and overlapping; FastCGI found on any port by content;
// a reused port; other protocols left alone; a file cut short; pushed in pieces of any size.

import { describe, expect, it } from 'vitest';
import { Encoder, RecordType, Role } from '../../src/codec/index.js';
import { inspect, Inspector, type InspectReport } from '../../src/inspect/index.js';
import { concat, frames, LINK, pcap, pcapng, segments, type ConnectionSpec, type Segment } from './pcap-builder.js';

const e = new Encoder();
const t = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** One request and its response; the body long enough to cross the client's sequence wrap (2^32). */
function exchange(id = 1, uri = '/a', body = 'b'.repeat(6000)): [Uint8Array, Uint8Array] {
  const toApp = concat([e.beginRequest(id, Role.RESPONDER, 0), e.pairs(id, { REQUEST_METHOD: 'POST', REQUEST_URI: uri, CONTENT_LENGTH: String(body.length) }), ...e.stream(RecordType.STDIN, id, t.encode(body), true)]);
  const fromApp = concat([...e.stream(RecordType.STDOUT, id, t.encode(`Status: 201 Created\r\nX-Uri: ${uri}\r\n\r\nreply ${uri}`), true), e.endRequest(id, 0)]);
  return [toApp, fromApp];
}

function spec(extra: Partial<ConnectionSpec> = {}): ConnectionSpec {
  const [toApp, fromApp] = exchange();
  return { sends: [[0, toApp], [1, fromApp]], mss: 700, ...extra };
}

/** The one exchange as the test sent it. */
function expectExchange(r: InspectReport): void {
  expect(r.findings).toEqual([]);
  expect(r.conversations).toHaveLength(1);
  const x = r.conversations[0]!.exchanges[0]!;
  expect(x.params).toEqual([['REQUEST_METHOD', 'POST'], ['REQUEST_URI', '/a'], ['CONTENT_LENGTH', '6000']]);
  expect([x.stdin.bytes, x.stdin.complete, text(x.stdin.preview)]).toEqual([6000, true, 'b'.repeat(256)]);
  expect([x.response!.status, x.response!.headers, text(x.response!.body.preview), x.response!.appStatus]).toEqual([201, [['X-Uri', '/a']], 'reply /a', 0]);
}

describe('captures', () => {
  for (const [name, link] of Object.entries(LINK)) {
    for (const v6 of [false, true]) {
      it(`${name} framing over IPv${v6 ? 6 : 4}, pcap and pcapng`, () => {
        const s = spec({ v6 });
        const list = frames(s, segments(s), link);
        for (const file of [pcap(link, list), pcapng(link, list)]) {
          const r = inspect(file);
          expectExchange(r);
          const c = r.conversations[0]!;
          expect(c.client).toEqual({ address: v6 ? '::1' : '127.0.0.1', port: 40000 });
          expect(c.server).toEqual({ address: v6 ? '::1' : '127.0.0.1', port: 9000 });
          expect(c.closed).toBe(true);
          expect(r.stats.packets).toBe(list.length);
        }
      });
    }
  }

  it('pcap big-endian with nanosecond timestamps; times from the capture', () => {
    const s = spec();
    const list = frames(s, segments(s), LINK.ETHERNET, 1_700_000_000_123.5);
    const r = inspect(pcap(LINK.ETHERNET, list, { bigEndian: true, nano: true }));
    expectExchange(r);
    const x = r.conversations[0]!.exchanges[0]!;
    expect(x.times.begin).toBeCloseTo(1_700_000_000_126.5, 3); // the 4th frame: after the handshake
    expect(x.times.end! - x.times.begin!).toBeGreaterThan(0);
    expect(r.conversations[0]!.records[0]).toMatchObject({ typeName: 'BEGIN_REQUEST', offset: 0, frame: 4 });
  });

  it('out-of-order, retransmitted and overlapping segments are put back in order', () => {
    const s = spec();
    const segs = segments(s);
    const data = segs.filter((x) => x.data.length > 0);
    const head = segs.slice(0, 3);
    const shuffled: Segment[] = [];
    // every pair of data segments swapped, each one sent twice, and a segment re-cut to overlap both neighbours
    for (let i = 0; i < data.length; i += 2) shuffled.push(...(data[i + 1] ? [data[i + 1]!, data[i]!] : [data[i]!]));
    const withRetransmits = shuffled.flatMap((x, i) => (i % 3 === 0 ? [x, x] : [x]));
    const a = data[2]!;
    const b = data[3]!;
    const overlap: Segment = { side: a.side, rel: a.rel + 100, data: concat([a.data, b.data]).subarray(100, a.data.length + 200), flags: a.flags };
    const list = frames(s, [...head, overlap, ...withRetransmits, ...segs.slice(3 + data.length)], LINK.ETHERNET);
    expectExchange(inspect(pcapng(LINK.ETHERNET, list)));
  });

  it('a capture that starts mid-connection (no handshake) still decodes from a record boundary', () => {
    const s = spec({ noHandshake: true });
    expectExchange(inspect(pcap(LINK.SLL, frames(s, segments(s), LINK.SLL))));
  });

  it('FastCGI found by content on any port; the web server is who sends BEGIN_REQUEST; other TCP left alone', () => {
    // the app's reply captured first, on ports that say nothing
    const [toApp, fromApp] = exchange(3, '/z');
    const s: ConnectionSpec = { sends: [[1, fromApp.subarray(0, 0)], [0, toApp], [1, fromApp]], client: ['127.0.0.5', 443], server: ['127.0.0.9', 80] };
    const segs = segments(s);
    // the server's segments before the client's: a capture where the answer's packet was seen first
    const reply = segs.filter((x) => x.side === 1 && x.data.length > 0);
    const reordered = [...segs.slice(0, 3), ...reply, ...segs.slice(3).filter((x) => !reply.includes(x))];
    const http = { sends: [[0, t.encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n')], [1, t.encode('HTTP/1.1 200 OK\r\n\r\n')]] as [0 | 1, Uint8Array][], client: ['127.0.0.5', 5555] as [string, number] };
    const r = inspect(pcap(LINK.ETHERNET, [...frames(http, segments(http), LINK.ETHERNET), ...frames(s, reordered, LINK.ETHERNET)]));
    expect(r.stats.otherConnections).toBe(1);
    expect(r.conversations).toHaveLength(1);
    const c = r.conversations[0]!;
    expect([c.client, c.server]).toEqual([{ address: '127.0.0.5', port: 443 }, { address: '127.0.0.9', port: 80 }]);
    expect(c.exchanges[0]!.requestId).toBe(3);
    expect(c.exchanges[0]!.response!.headers).toEqual([['X-Uri', '/z']]);
  });

  it('a reused 4-tuple after the connection closed is a new conversation', () => {
    const one = spec();
    const [toApp, fromApp] = exchange(1, '/second');
    const two: ConnectionSpec = { sends: [[0, toApp], [1, fromApp]] };
    const list = [...frames(one, segments(one), LINK.ETHERNET), ...frames(two, segments(two), LINK.ETHERNET, 1_700_000_001_000)];
    const r = inspect(pcap(LINK.ETHERNET, list));
    expect(r.findings).toEqual([]);
    expect(r.conversations.map((c) => c.exchanges.map((x) => x.params[1]![1]))).toEqual([['/a'], ['/second']]);
  });

  it('pushed in pieces of every size, the incremental inspector reports the same, each exchange once', () => {
    const s = spec();
    const file = pcapng(LINK.SLL2, frames(s, segments(s), LINK.SLL2));
    for (const size of [1, 7, 100, 4096]) {
      const done: string[] = [];
      const i = new Inspector({ onExchange: (c, x) => done.push(`${c.id}:${x.requestId}`) });
      for (let at = 0; at < file.length; at += size) i.push(file.subarray(at, at + size));
      expectExchange(i.end());
      expect(done).toEqual(['1:1']);
    }
  });

  it('a capture cut short; a file that is no capture', () => {
    const s = spec();
    const file = pcap(LINK.ETHERNET, frames(s, segments(s), LINK.ETHERNET));
    const cut = inspect(file.subarray(0, file.length - 10));
    expect(cut.findings.map((f) => f.code)).toEqual(['TRUNCATED_CAPTURE']);
    const bad = concat([file.subarray(0, 24), new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0])]);
    expect(inspect(bad).findings).toMatchObject([{ code: 'BAD_INPUT', severity: 'error', message: expect.stringContaining('BAD_CAPTURE'), offset: 24 }]);
    expect(inspect(new Uint8Array([0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 9, 9, 9, 9])).findings[0]!.code).toBe('BAD_INPUT');
  });
});

describe('a capture that began inside a connection', () => {
  it('reads each side from its first whole record, warns once per side, and takes no earlier request for an error', () => {
    const [a1, b1] = exchange(1, '/before');
    const [a2, b2] = exchange(2, '/after');
    // both sides cut 30 bytes into their first record; the first request's records go on after the cut
    const s: ConnectionSpec = { sends: [[0, a1.subarray(30)], [1, b1.subarray(30)], [0, a2], [1, b2]], noHandshake: true, mss: 500 };
    const r = inspect(pcap(LINK.ETHERNET, frames(s, segments(s), LINK.ETHERNET)));
    expect(r.findings.map((f) => [f.code, f.direction])).toEqual([['CAPTURE_MIDSTREAM', 'to-app'], ['CAPTURE_MIDSTREAM', 'from-app']]);
    const c = r.conversations[0]!;
    expect(c.exchanges.map((x) => [x.requestId, x.params[1]![1], x.response!.status])).toEqual([[2, '/after', 201]]);
    expect([c.client!.port, c.server!.port]).toEqual([40000, 9000]);
  });
});
