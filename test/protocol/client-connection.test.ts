// ClientConnection and the CGI response parser against the conformance exchanges: the requests we
// write are the vectors' bytes, and the apps' replies (fcgi2, php-fpm style, headers split across
// records) come out as the expected status, headers, body, stderr and app status.

import { describe, expect, it } from 'vitest';
import { exchanges } from '../fixtures/vectors.js';
import { ClientConnection } from '../../src/protocol/client-connection.js';
import { CgiResponseParser } from '../../src/protocol/cgi-response.js';
import { Decoder, Encoder, FastCGIError, RecordType, Flags, type PairList } from '../../src/codec/index.js';
import { fromHex, toHex } from '../codec/harness.js';
import { concat } from '../codec/bytes.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

/** The requests in a client_to_app stream: role, flags, params, stdin, data. */
function requestsIn(bytes: Uint8Array) {
  const reqs: { id: number; role: number; flags: number; params: [string, string][]; stdin: Uint8Array[]; data: Uint8Array[] }[] = [];
  const byId = (id: number) => reqs.filter((r) => r.id === id).at(-1)!;
  const d = new Decoder({
    begin: (id, role, flags) => reqs.push({ id, role, flags, params: [], stdin: [], data: [] }),
    pairs: (type, id, list: PairList) => type === RecordType.PARAMS && byId(id)?.params.push(...list.toArray()),
    record: (type, id, content) => {
      if (type === RecordType.STDIN && byId(id)) byId(id).stdin.push(content.slice());
      if (type === RecordType.DATA && byId(id)) byId(id).data.push(content.slice());
    },
  });
  d.push(bytes);
  return reqs;
}

// single-request exchanges where the web server behaved as ours does (one request per connection)
const SINGLE = ['X01', 'X02', 'X03', 'X05', 'X06', 'X07', 'X14', 'X16'];

describe('ClientConnection on the conformance exchanges', () => {
  for (const x of exchanges.filter((e) => SINGLE.includes(e.id))) {
    for (const feeding of ['whole', 'byte by byte'] as const) {
      it(`${x.id} ${feeding}: ${x.description}`, () => {
        const out: Uint8Array[] = [];
        const stdout: Uint8Array[] = [];
        const stderr: Uint8Array[] = [];
        let ended: [number, number] | null = null;
        const conn = new ClientConnection({
          write: (parts) => out.push(...parts.map((p) => p.slice())),
          close: (e) => {
            if (e) throw e;
          },
          stdout: (_id, c) => stdout.push(c.slice()),
          stderr: (_id, c) => stderr.push(c.slice()),
          end: (_id, app, status) => (ended = [app, status]),
        });
        const [req] = requestsIn(fromHex(x.client_to_app_hex));
        const id = conn.begin(req!.params, { role: req!.role, keepConn: (req!.flags & Flags.KEEP_CONN) !== 0 });
        expect(id).toBe(1);
        for (const c of req!.stdin) conn.stdin(id, c, c.length === 0);
        for (const c of req!.data) conn.data(id, c, c.length === 0);
        // what we wrote is what the web server in the vector wrote (the vectors' padding is canonical)
        expect(toHex(concat(out))).toBe(x.client_to_app_hex);

        const reply = fromHex(x.app_to_client_hex);
        if (feeding === 'whole') conn.receive(reply);
        else for (let i = 0; i < reply.length; i++) conn.receive(reply.slice(i, i + 1));
        expect(ended).not.toBeNull();
        expect(conn.openRequests).toBe(0);

        const parser = new CgiResponseParser();
        let head = null;
        const body: Uint8Array[] = [];
        for (const c of stdout) {
          const r = parser.push(c);
          if (r?.head) head = r.head;
          if (r) body.push(r.body);
        }
        parser.end();
        const e = x.expected;
        if (e.status !== undefined) expect(head!.status).toBe(e.status);
        if (e.body !== undefined) expect(text(concat(body))).toBe(e.body);
        if (e.stderr !== undefined) expect(text(concat(stderr))).toBe(e.stderr);
        if (e.appStatus !== undefined) expect(ended![0]).toBe(e.appStatus);
        if (e.headers) for (const [k, v] of Object.entries(e.headers)) expect(head!.headers).toContainEqual([k, v]);
        if (e.variables) for (const [k, v] of Object.entries(e.variables)) expect(head!.headers).toContainEqual([`Variable-${k}`, v]);
      });
    }
  }
});

describe('ClientConnection', () => {
  const harness = () => {
    const events: string[] = [];
    const conn = new ClientConnection({
      write: () => {},
      close: (e) => events.push(`close ${e?.code ?? ''}`),
      stdout: (id) => events.push(`stdout ${id}`),
      stderr: () => {},
      end: (id, a, s) => events.push(`end ${id} ${a} ${s}`),
      values: (p) => events.push(`values ${JSON.stringify(p.toArray())}`),
    });
    return { conn, events };
  };
  const enc = new Encoder();

  it('uses the smallest free request ids and frees them at END_REQUEST', () => {
    const { conn } = harness();
    expect([conn.begin({}), conn.begin({}), conn.begin({})]).toEqual([1, 2, 3]);
    conn.receive(enc.endRequest(2, 0));
    expect(conn.begin({})).toBe(2);
  });

  it('closes with a typed error on a reply for a request that is not active', () => {
    const { conn, events } = harness();
    conn.begin({});
    conn.receive(enc.record(RecordType.STDOUT, 5, new Uint8Array([1])));
    expect(events).toEqual(['close UNEXPECTED_REQUEST_ID']);
  });

  it('ignores everything after dispose(): replies, the app closing, input for its requests; refuses a new request', () => {
    const { conn, events } = harness();
    const id = conn.begin({});
    conn.dispose();
    expect(conn.openRequests).toBe(0);
    expect(conn.isClosed).toBe(true);
    conn.receive(concat([enc.record(RecordType.STDOUT, id, new Uint8Array([1])), enc.endRequest(id, 0)]));
    conn.receive(Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9)); // even bad bytes
    conn.receiveEnd();
    conn.stdin(id, new Uint8Array([1]), true);
    expect(events).toEqual([]);
    expect(() => conn.begin({})).toThrow(expect.objectContaining({ code: 'CONNECTION_CLOSED' }));
  });

  it('passes GET_VALUES_RESULT on', () => {
    const { conn, events } = harness();
    conn.receive(enc.getValuesResult({ FCGI_MPXS_CONNS: '0' }));
    expect(events).toEqual(['values [["FCGI_MPXS_CONNS","0"]]']);
  });
});

describe('CgiResponseParser', () => {
  const parse = (s: string) => {
    const p = new CgiResponseParser();
    const r = p.push(Buffer.from(s, 'latin1'));
    return r?.head;
  };
  it('reads Status, repeated headers and LF-only lines', () => {
    const h = parse('Status: 404 Nope\nSet-Cookie: a=1\nSet-Cookie: b=2\n\nbody')!;
    expect(h).toMatchObject({ status: 404, statusText: 'Nope', headers: [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']] });
  });
  it('tells a local redirect from a client redirect (RFC 3875 6.2)', () => {
    expect(parse('Location: /other\r\n\r\n')).toMatchObject({ status: 302, localRedirect: true, location: '/other' });
    expect(parse('Location: http://x.test/\r\n\r\n')).toMatchObject({ status: 302, localRedirect: false });
    expect(parse('Status: 301 Moved\r\nLocation: /new\r\n\r\n')).toMatchObject({ status: 301, localRedirect: false });
    expect(parse('Content-Type: text/html\r\nLocation: /p\r\n\r\n')).toMatchObject({ status: 302, localRedirect: true });
  });
  it('says how many bytes came when the headers never end', () => {
    const p = new CgiResponseParser();
    p.push(Buffer.from('Content-Type: text/plain\r\nX: y'));
    expect(() => p.end()).toThrow(/incomplete headers \(30 bytes\)/);
  });
  it('rejects bad header lines and oversized heads with typed errors', () => {
    expect(() => parse('Bad Header: x\r\n\r\n')).toThrow(FastCGIError);
    expect(() => parse('Status: abc\r\n\r\n')).toThrow(/invalid Status/);
    const p = new CgiResponseParser(100);
    expect(() => p.push(Buffer.alloc(200, 'a'))).toThrow(/exceed 100 bytes/);
  });
  it('refuses what no web server could send on: a status outside 200-599, control bytes in a value', () => {
    for (const status of ['000', '099', '100 Continue', '101', '600', '999']) {
      expect(() => parse(`Status: ${status}\r\n\r\n`), status).toThrow(expect.objectContaining({ code: 'BAD_CGI_STATUS' }));
    }
    for (const value of ['a\x01b', 'a\x7fb', 'a\0b', 'a\rb', 'a\x1bb']) {
      expect(() => parse(`X-Value: ${value}\r\n\r\n`), JSON.stringify(value)).toThrow(expect.objectContaining({ code: 'BAD_CGI_HEADER' }));
    }
    expect(() => parse('Status: 404 Not\x01Found\r\n\r\n')).toThrow(expect.objectContaining({ code: 'BAD_CGI_HEADER' }));
    // a tab and bytes 0x80-0xff are fine (obs-text)
    expect(parse('Status: 599 Odd\r\nX-Value: a\tb\xe9\r\n\r\n')).toMatchObject({ status: 599, headers: [['X-Value', 'a\tb\xe9']] });
  });
});
