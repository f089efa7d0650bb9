// ServerConnection against the conformance exchanges (X01-X16): the web server's bytes are fed whole
// and one byte at a time; a scripted app replays what the vector's app did; the bytes that come out
// must be the vector's, byte for byte (or in meaning, where the vector's peer was not canonical).

import { describe, expect, it } from 'vitest';
import { exchanges } from '../fixtures/vectors.js';
import { MAX_QUEUED_REQUESTS, ServerConnection, type ServerConnectionOptions, type ServerRequestInfo } from '../../src/protocol/server-connection.js';
import { Encoder, FastCGIProtocolError, RecordType, Role, decodeRecords, Flags } from '../../src/codec/index.js';
import { fromHex, toHex } from '../codec/harness.js';
import { concat, splitParams } from '../codec/bytes.js';

const enc = new Encoder();
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** A connection with a recording handler. */
function harness(options: ServerConnectionOptions & { overloaded?: () => boolean } = {}) {
  const out: Uint8Array[] = [];
  const log = {
    requests: [] as ServerRequestInfo[],
    stdin: new Map<number, Uint8Array[]>(),
    stdinEnded: [] as number[],
    data: new Map<number, Uint8Array[]>(),
    aborted: [] as number[],
    closed: [] as (FastCGIProtocolError | undefined)[],
    held: [] as boolean[],
  };
  const conn = new ServerConnection(
    {
      write: (parts) => out.push(...parts.map((p) => p.slice())),
      close: (err) => log.closed.push(err),
      request: (info) => log.requests.push(info),
      stdin: (id, chunk) => (chunk.length === 0 ? log.stdinEnded.push(id) : (log.stdin.get(id) ?? log.stdin.set(id, []).get(id)!).push(chunk.slice())),
      data: (id, chunk) => chunk.length > 0 && (log.data.get(id) ?? log.data.set(id, []).get(id)!).push(chunk.slice()),
      abort: (id) => log.aborted.push(id),
      overloaded: options.overloaded,
      holdInput: (hold) => log.held.push(hold),
    },
    options,
  );
  return { conn, out: () => concat(out), log };
}

/** Replays the app's side of the vector: STDOUT/STDERR content and END, skipping what the library writes itself. */
function replayApp(conn: ServerConnection, appToClient: Uint8Array): void {
  for (const r of decodeRecords(appToClient)) {
    if (r.type === RecordType.STDOUT && r.content.length > 0) conn.stdout(r.requestId, r.content);
    else if (r.type === RecordType.STDERR && r.content.length > 0) conn.stderr(r.requestId, r.content);
    else if (r.type === RecordType.END_REQUEST && r.content[4] === 0) {
      const app = ((r.content[0]! << 24) | (r.content[1]! << 16) | (r.content[2]! << 8) | r.content[3]!) >>> 0;
      conn.end(r.requestId, app);
    }
  }
}

const meaning = (bytes: Uint8Array) =>
  decodeRecords(bytes)
    .filter((r) => !((r.type === RecordType.STDOUT || r.type === RecordType.STDERR) && r.content.length === 0))
    .map((r) => [r.type, r.requestId, r.type === RecordType.END_REQUEST ? toHex(r.content.subarray(0, 5)) : text(r.content)]);

describe('ServerConnection on the conformance exchanges', () => {
  for (const x of exchanges) {
    for (const feeding of ['whole', 'byte by byte'] as const) {
      it(`${x.id} ${feeding}: ${x.description}`, () => {
        // the vectors' apps were fcgi2 (one connection, no multiplexing) except where they show multiplexing
        const fcgi2 = x.id === 'X11' || x.id === 'X08';
        const { conn, out, log } = harness(fcgi2 ? { multiplex: false, maxConnections: 1 } : {});
        const input = fromHex(x.client_to_app_hex);
        if (feeding === 'whole') conn.receive(input);
        else for (let i = 0; i < input.length; i++) conn.receive(input.slice(i, i + 1));
        replayApp(conn, fromHex(x.app_to_client_hex));
        expect(log.closed.filter((e) => e !== undefined)).toEqual([]);

        const want = fromHex(x.app_to_client_hex);
        // php-fpm (X14) omits terminators and leaves garbage in END_REQUEST; fcgi2 ends an aborted request
        // (X09) without the STDOUT terminator, which we always send
        if (x.id === 'X14' || x.id === 'X09') expect(meaning(out())).toEqual(meaning(want));
        else expect(toHex(out())).toBe(toHex(want));

        const e = x.expected;
        const stdin = (id: number) => text(concat(log.stdin.get(id) ?? []));
        if (e.stdinLength !== undefined) expect(stdin(1).length).toBe(e.stdinLength);
        if (e.stdin !== undefined) expect(stdin(1)).toBe(e.stdin);
        if (e.data !== undefined) expect(text(concat(log.data.get(1) ?? []))).toBe(e.data);
        if (e.aborted) expect(log.aborted).toEqual([1]);
        if (e.responses) expect(log.requests).toHaveLength(e.responses);
      });
    }
  }
});

const preamble = (id: number, params: Record<string, string>, role: number = Role.RESPONDER, flags: number = Flags.KEEP_CONN) =>
  concat([enc.beginRequest(id, role, flags), enc.pairs(id, params)]);

describe('ServerConnection behaviour', () => {
  it('starts a request when its params end and hands the params over', () => {
    const { conn, log } = harness();
    conn.receive(preamble(1, { SCRIPT_NAME: '/a', HTTP_HOST: 'h' }));
    expect(log.requests).toHaveLength(1);
    expect(log.requests[0]!.params.get('HTTP_HOST')).toBe('h');
    expect(log.requests[0]).toMatchObject({ requestId: 1, role: Role.RESPONDER, keepConn: true });
  });

  it('waits for the empty PARAMS record, not for a record that completes no pair (a long pair straddling records)', () => {
    const { conn, log } = harness();
    const value = 'v'.repeat(150_000); // three records' worth: the middle one holds part of the pair only
    conn.receive(concat([enc.beginRequest(1, Role.RESPONDER), ...splitParams(1, { BIG: value, A: 'b' }, 65000)]));
    expect(log.requests).toHaveLength(0);
    conn.receive(enc.record(RecordType.PARAMS, 1));
    expect(log.requests).toHaveLength(1);
    expect(log.requests[0]!.params.get('BIG')).toBe(value);
    expect(log.requests[0]!.params.get('A')).toBe('b');
  });

  it('answers OVERLOADED past maxRequests and lets the others run', () => {
    const { conn, out, log } = harness({ maxRequests: 2 });
    conn.receive(concat([preamble(1, {}), preamble(2, {}), preamble(3, {})]));
    expect(log.requests.map((r) => r.requestId)).toEqual([1, 2]);
    expect(decodeRecords(out()).map((r) => [r.type, r.requestId, r.content[4]])).toEqual([[RecordType.END_REQUEST, 3, 2]]);
  });

  it('answers OVERLOADED when the server says so (shutting down)', () => {
    const { conn, out, log } = harness({ overloaded: () => true });
    conn.receive(preamble(1, {}));
    expect(log.requests).toEqual([]);
    expect(decodeRecords(out())[0]!.content[4]).toBe(2);
  });

  it('closes without KEEP_CONN once the request ended, and keeps the connection with it', () => {
    const a = harness();
    a.conn.receive(preamble(1, {}, Role.RESPONDER, 0));
    a.conn.end(1, 0, new TextEncoder().encode('x'));
    expect(a.log.closed).toEqual([undefined]);
    const b = harness();
    b.conn.receive(preamble(1, {}));
    b.conn.end(1);
    expect(b.log.closed).toEqual([]);
  });

  it('writes the last output, the terminators and END_REQUEST in one write', () => {
    const writes: Uint8Array[][] = [];
    const conn = new ServerConnection({ write: (p) => writes.push(p), close() {}, request() {}, stdin() {}, abort() {} });
    conn.receive(preamble(1, {}));
    conn.stderr(1, new Uint8Array([33]));
    conn.end(1, 7, new TextEncoder().encode('Status: 200\r\n\r\nok'));
    expect(writes).toHaveLength(2);
    expect(decodeRecords(concat(writes[1]!)).map((r) => [r.type, r.content.length])).toEqual([
      [RecordType.STDOUT, 17], [RecordType.STDOUT, 0], [RecordType.STDERR, 0], [RecordType.END_REQUEST, 8],
    ]);
  });

  it('closes with a typed error on bad bytes, aborting the requests it had', () => {
    const { conn, log } = harness();
    conn.receive(preamble(1, {}));
    conn.receive(Uint8Array.from([9, 9, 9, 9, 9, 9, 9, 9]));
    expect(log.closed).toHaveLength(1);
    expect(log.closed[0]).toMatchObject({ code: 'BAD_VERSION', offset: preamble(1, {}).length });
    expect(log.aborted).toEqual([1]);
    conn.receive(preamble(2, {})); // ignored after close
    expect(log.requests).toHaveLength(1);
  });

  it('refuses a BEGIN for an id whose input has not ended', () => {
    const { conn, log } = harness();
    conn.receive(concat([preamble(1, {}), preamble(1, {})]));
    expect(log.closed[0]?.code).toBe('BEGIN_FOR_ACTIVE_ID');
  });

  it('aborts open requests when the peer hangs up, and closes once they end', () => {
    const { conn, log } = harness();
    conn.receive(preamble(1, {}));
    conn.receiveEnd();
    expect(log.aborted).toEqual([1]);
    expect(log.closed).toEqual([]);
    conn.end(1);
    expect(log.closed).toEqual([undefined]);
  });

  it('ignores everything after dispose(): no request starts, nothing is written, end() is a no-op', () => {
    const { conn, out, log } = harness();
    conn.receive(preamble(1, {}));
    conn.dispose();
    expect(conn.openRequests).toBe(0);
    expect(conn.isClosed).toBe(true);
    conn.end(1);
    conn.receive(concat([preamble(2, {}), Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9)])); // even bad bytes
    conn.receiveEnd();
    expect(log.requests.map((r) => r.requestId)).toEqual([1]);
    expect(log.closed).toEqual([]);
    expect(out().length).toBe(0);
  });

  it('survives a handler that disposes of the connection from inside a call', () => {
    let conn: ServerConnection;
    const started: number[] = [];
    conn = new ServerConnection({ write: () => conn.dispose(), close() {}, request: (info) => started.push(info.requestId), stdin() {}, abort() {} });
    conn.receive(preamble(1, {}));
    expect(() => conn.end(1)).not.toThrow(); // END_REQUEST written, then the connection gone
    expect(conn.openRequests).toBe(0);
    const asked = new ServerConnection({ write() {}, close() {}, request: (info) => started.push(info.requestId), stdin() {}, abort() {}, overloaded: () => (asked.dispose(), false) });
    asked.receive(preamble(2, {}));
    expect(started).toEqual([1]);
    expect(asked.openRequests).toBe(0);
  });

  it('answers an ABORT for a request that never started with END_REQUEST at once', () => {
    const { conn, out, log } = harness();
    conn.receive(concat([enc.beginRequest(4, Role.RESPONDER, 1), enc.abortRequest(4)]));
    expect(log.requests).toEqual([]);
    expect(decodeRecords(out()).map((r) => [r.type, r.requestId])).toEqual([[RecordType.STDOUT, 4], [RecordType.END_REQUEST, 4]]);
  });
  it('answers the requests whose input was complete when the peer half-closes, aborts the ones it cut short, then closes', () => {
    const { conn, out, log } = harness();
    const stdinEnd = enc.stream(RecordType.STDIN, 1, new Uint8Array(0), true);
    conn.receive(concat([preamble(1, {}), ...stdinEnd])); // complete
    conn.receive(concat([preamble(2, {}), ...enc.stream(RecordType.STDIN, 2, new Uint8Array(3))])); // body cut short
    const head3 = preamble(3, { A: 'b' });
    conn.receive(head3.subarray(0, head3.length - 8)); // head cut short: its params never end
    conn.receiveEnd();
    expect(log.aborted).toEqual([2]);
    expect(log.requests.map((r) => r.requestId)).toEqual([1, 2]);
    expect(conn.openRequests).toBe(2);
    conn.end(2);
    expect(log.closed).toEqual([]);
    conn.end(1, 0, new TextEncoder().encode('Status: 200\r\n\r\nanswered'));
    expect(log.closed).toEqual([undefined]);
    const ends = decodeRecords(out()).filter((r) => r.type === RecordType.END_REQUEST).map((r) => r.requestId);
    expect(ends).toEqual([2, 1]);
  });

  it('answers pipelined requests on one id in order even after a half-close', () => {
    const { conn, out, log } = harness();
    const whole = (id: number, uri: string) => concat([preamble(id, { REQUEST_URI: uri }), ...enc.stream(RecordType.STDIN, id, new Uint8Array(0), true)]);
    conn.receive(concat([whole(1, '/a'), whole(1, '/b')]));
    conn.receiveEnd();
    expect(log.requests.map((r) => r.params.get('REQUEST_URI'))).toEqual(['/a']);
    conn.end(1);
    expect(log.requests.map((r) => r.params.get('REQUEST_URI'))).toEqual(['/a', '/b']);
    conn.end(1);
    expect(log.closed).toEqual([undefined]);
    expect(decodeRecords(out()).filter((r) => r.type === RecordType.END_REQUEST)).toHaveLength(2);
  });

  it('asks to hold input while queued requests hold more than maxBodyBuffer, and releases it when they start', () => {
    const { conn, log } = harness({ maxBodyBuffer: 1000 });
    conn.receive(concat([preamble(1, {}), ...enc.stream(RecordType.STDIN, 1, new Uint8Array(0), true)]));
    // a second request pipelined on id 1: queued behind the first, its body held
    conn.receive(concat([preamble(1, { N: '2' }), ...enc.stream(RecordType.STDIN, 1, new Uint8Array(600))]));
    expect(log.held).toEqual([]);
    conn.receive(concat(enc.stream(RecordType.STDIN, 1, new Uint8Array(600))));
    expect(log.held).toEqual([true]);
    conn.end(1); // the queued request starts and takes its body: input may flow again
    expect(log.held).toEqual([true, false]);
    expect(log.stdin.get(1)!.reduce((n, c) => n + c.length, 0)).toBe(1200);
  });

  it('counts a held record by what it costs, not only its content: a flood of one-byte records holds input too', () => {
    const { conn, log } = harness({ maxBodyBuffer: 64 * 1024 });
    conn.receive(concat([preamble(1, {}), ...enc.stream(RecordType.STDIN, 1, new Uint8Array(0), true), preamble(1, {})]));
    const oneByte = enc.record(RecordType.STDIN, 1, new Uint8Array(1));
    conn.receive(concat(Array.from({ length: 2000 }, () => oneByte))); // 2 KB of content, 18 KB on the wire
    expect(log.held).toEqual([true]);
  });

  it(`asks to hold input while ${MAX_QUEUED_REQUESTS} requests are queued behind others, and answers them all in order`, () => {
    const { conn, log } = harness();
    const whole = (n: number) => concat([preamble(1, { N: String(n) }), ...enc.stream(RecordType.STDIN, 1, new Uint8Array(0), true)]);
    conn.receive(concat(Array.from({ length: MAX_QUEUED_REQUESTS + 1 }, (_, i) => whole(i))));
    expect(log.held).toEqual([true]);
    conn.end(1);
    expect(log.held).toEqual([true, false]);
    for (let i = 1; i <= MAX_QUEUED_REQUESTS; i++) conn.end(1);
    expect(log.requests.map((r) => r.params.get('N'))).toEqual(Array.from({ length: MAX_QUEUED_REQUESTS + 1 }, (_, i) => String(i)));
    expect(conn.openRequests).toBe(0);
  });

  it('answers an ABORT for a request queued behind another on its id in its turn, without running it', () => {
    const { conn, out, log } = harness();
    conn.receive(concat([preamble(1, { N: '1' }), ...enc.stream(RecordType.STDIN, 1, new Uint8Array(0), true), preamble(1, { N: '2' }), enc.abortRequest(1)]));
    expect(decodeRecords(out())).toEqual([]); // nothing yet: the first request is still running
    conn.end(1, 0, new TextEncoder().encode('Status: 200\r\n\r\nfirst'));
    expect(log.requests.map((r) => r.params.get('N'))).toEqual(['1']);
    const ends = decodeRecords(out()).filter((r) => r.type === RecordType.END_REQUEST);
    expect(ends).toHaveLength(2);
    expect(conn.openRequests).toBe(0);
  });

  it('reports whether request heads are waiting (before the first BEGIN, while params are incomplete) and how many requests run', () => {
    const { conn } = harness();
    expect(conn.heads).toEqual({ waiting: true, done: 0 });
    const head = preamble(1, { A: 'b' });
    conn.receive(head.subarray(0, head.length - 8)); // all but the params' end
    expect(conn.heads).toEqual({ waiting: true, done: 0 });
    expect([conn.openRequests, conn.startedRequests]).toEqual([1, 0]); // open, but nothing runs yet
    conn.receive(head.subarray(head.length - 8));
    expect(conn.heads).toEqual({ waiting: false, done: 1 });
    expect(conn.startedRequests).toBe(1);
    conn.end(1);
    expect(conn.heads).toEqual({ waiting: false, done: 1 });
    expect([conn.openRequests, conn.startedRequests]).toEqual([0, 0]);
  });
  it('counts the params of all heads in progress against maxParamsBytes together (PARAMS_TOO_LARGE), and frees them as heads complete', () => {
    const value = 'v'.repeat(300);
    const unfinished = (id: number) => preamble(id, { A: value }).subarray(0, -8); // the params never end
    const a = harness({ maxParamsBytes: 1000 });
    a.conn.receive(concat([unfinished(1), unfinished(2), unfinished(3)]));
    expect(a.log.closed).toEqual([]);
    a.conn.receive(unfinished(4));
    expect(a.log.closed[0]?.code).toBe('PARAMS_TOO_LARGE');
    // heads that complete no longer count: many requests in turn, each under the limit
    const b = harness({ maxParamsBytes: 1000 });
    for (let id = 1; id <= 10; id++) b.conn.receive(preamble(id, { A: value }));
    expect(b.log.closed).toEqual([]);
    expect(b.log.requests).toHaveLength(10);
  });
});
