// Each finding the inspector reports, triggered by a crafted stream (raw bytes, both directions back to
// back, or a hand-made capture), at the byte offset where the rule is broken; and none on clean traffic.

import { describe, expect, it } from 'vitest';
import { Encoder, RecordType, Role, encodePairs, encodeRecord } from '../../src/codec/index.js';
import { inspect, reportToJSON, type InspectReport } from '../../src/inspect/index.js';
import { concat, frames, LINK, pcap, segments } from './pcap-builder.js';

const e = new Encoder();
const t = new TextEncoder();
const rec = (type: number, id: number, content: Uint8Array | string = new Uint8Array(0)) => encodeRecord(type, id, typeof content === 'string' ? t.encode(content) : content);

/** The parts back to back, and where each one starts. */
function stream(...parts: Uint8Array[]): { bytes: Uint8Array; at: number[] } {
  const at: number[] = [];
  let o = 0;
  for (const p of parts) {
    at.push(o);
    o += p.length;
  }
  return { bytes: concat(parts), at };
}

const begin = (id = 1, flags = 0) => e.beginRequest(id, Role.RESPONDER, flags);
const params = (id = 1, pairs: Record<string, string> = { REQUEST_METHOD: 'GET', REQUEST_URI: '/' }) => e.pairs(id, pairs);
const stdinEnd = (id = 1) => rec(RecordType.STDIN, id);
const stdout = (id = 1, body = 'Content-Type: text/plain\r\n\r\nhi') => rec(RecordType.STDOUT, id, body);
const stdoutEnd = (id = 1) => rec(RecordType.STDOUT, id);
const end = (id = 1, app = 0) => e.endRequest(id, app);

function codes(r: InspectReport): string[] {
  return r.findings.map((f) => f.code);
}

describe('findings', () => {
  it('none on clean traffic: multiplexed requests, a POST, stderr, GET_VALUES', () => {
    const { bytes } = stream(
      e.getValues(['FCGI_MPXS_CONNS']),
      begin(1, 1), begin(2, 1), params(1), params(2, { REQUEST_METHOD: 'POST', REQUEST_URI: '/p', CONTENT_LENGTH: '3' }),
      ...e.stream(RecordType.STDIN, 2, t.encode('abc'), true), stdinEnd(1),
      e.getValuesResult({ FCGI_MPXS_CONNS: '1' }),
      stdout(2, 'Status: 201 Created\r\n\r\nmade'), rec(RecordType.STDERR, 2, 'note'), rec(RecordType.STDERR, 2), stdoutEnd(2), end(2, 5),
      stdout(1), stdoutEnd(1), end(1),
    );
    const r = inspect(bytes);
    expect(r.findings).toEqual([]);
    const [one, two] = r.conversations[0]!.exchanges;
    expect([one!.requestId, one!.response!.status, one!.keepConn]).toEqual([1, 200, true]);
    expect([two!.response!.status, two!.response!.statusText, two!.response!.appStatus, two!.stdin.bytes]).toEqual([201, 'Created', 5, 3]);
    expect(new TextDecoder().decode(two!.response!.stderr.preview)).toBe('note');
    expect(r.conversations[0]!.management.map((m) => [m.typeName, m.direction, m.pairs])).toEqual([
      ['GET_VALUES', 'to-app', [['FCGI_MPXS_CONNS', '']]],
      ['GET_VALUES_RESULT', 'from-app', [['FCGI_MPXS_CONNS', '1']]],
    ]);
  });

  it('PAIR_SPLIT: a pair split across PARAMS records (the pairs still decoded whole)', () => {
    const body = encodePairs({ SCRIPT_FILENAME: '/srv/www/index.php', HTTP_HOST: 'example.test' });
    const { bytes, at } = stream(begin(), rec(RecordType.PARAMS, 1, body.subarray(0, 10)), rec(RecordType.PARAMS, 1, body.subarray(10)), rec(RecordType.PARAMS, 1), stdinEnd(), stdout(), stdoutEnd(), end());
    const r = inspect(bytes);
    expect(r.findings).toMatchObject([{ code: 'PAIR_SPLIT', severity: 'warning', offset: at[1], direction: 'to-app', requestId: 1 }]);
    expect(r.conversations[0]!.exchanges[0]!.params).toEqual([['SCRIPT_FILENAME', '/srv/www/index.php'], ['HTTP_HOST', 'example.test']]);
  });

  it('ONE_BYTE_LONG_LENGTH: a 130-byte name with a one-byte length (nginx 1.22, conformance N09)', () => {
    const pair = concat([new Uint8Array([0x82, 0x01]), t.encode('N'.repeat(130)), t.encode('v')]);
    const { bytes, at } = stream(begin(), rec(RecordType.PARAMS, 1, pair), rec(RecordType.PARAMS, 1), stdinEnd());
    const r = inspect(bytes);
    expect(r.findings).toMatchObject([{ code: 'ONE_BYTE_LONG_LENGTH', severity: 'error', offset: at[1]! + 8 }]);
    expect(r.findings[0]!.message).toContain('130-byte name');
  });

  it('MISSING_TERMINATOR: STDIN before the empty PARAMS; STDIN never closed', () => {
    const { bytes, at } = stream(begin(), rec(RecordType.PARAMS, 1, encodePairs({ A: 'b' })), rec(RecordType.STDIN, 1, 'body'), stdout(), stdoutEnd(), end());
    const r = inspect(bytes);
    expect(r.findings).toMatchObject([
      { code: 'MISSING_TERMINATOR', offset: at[2], requestId: 1 },
      { code: 'MISSING_TERMINATOR', offset: at[0], message: expect.stringContaining('STDIN never closed') },
    ]);
  });

  it('END_BEFORE_STDOUT_END: END_REQUEST with STDOUT still open (php-fpm, conformance X14)', () => {
    const { bytes, at } = stream(begin(), params(), stdinEnd(), stdout(), end());
    const r = inspect(bytes);
    expect(r.findings).toMatchObject([{ code: 'END_BEFORE_STDOUT_END', severity: 'warning', offset: at[4], direction: 'from-app' }]);
    expect(r.conversations[0]!.exchanges[0]!.response!.status).toBe(200);
  });

  it('INACTIVE_REQUEST_ID: records for an id never begun, or already ended', () => {
    const { bytes, at } = stream(begin(), params(), stdinEnd(), stdout(7), stdout(), stdoutEnd(), end(), rec(RecordType.STDERR, 1, 'late'));
    const r = inspect(bytes);
    expect(r.findings).toMatchObject([
      { code: 'INACTIVE_REQUEST_ID', severity: 'error', offset: at[3], requestId: 7 },
      { code: 'INACTIVE_REQUEST_ID', offset: at[7], requestId: 1 },
    ]);
  });

  it('BEGIN_FOR_ACTIVE_ID: a second BEGIN_REQUEST on an active id', () => {
    const { bytes, at } = stream(begin(), params(), begin(), params(), stdinEnd(), stdout(), stdoutEnd(), end());
    const r = inspect(bytes);
    expect(r.findings).toMatchObject([{ code: 'BEGIN_FOR_ACTIVE_ID', offset: at[2], requestId: 1 }]);
    expect(r.conversations[0]!.exchanges).toHaveLength(2);
  });

  it('UNKNOWN_RECORD_TYPE: a type FastCGI 1.0 does not define', () => {
    const { bytes, at } = stream(begin(), params(), stdinEnd(), rec(42, 0, 'x'), stdout(), stdoutEnd(), end());
    const r = inspect(bytes);
    expect(r.findings).toMatchObject([{ code: 'UNKNOWN_RECORD_TYPE', offset: at[3] }]);
  });

  it('truncated records: the input ends inside a header, a content or a padding', () => {
    const clean = stream(begin(), params(), stdinEnd(), stdout(1, 'Content-Type: a\r\n\r\nabc'), stdoutEnd(), end()).bytes;
    const lastStdout = clean.length - 16 - 8 - 32; // STDOUT (8 + 22 bytes + 2 padding), empty STDOUT, END
    // the input stops: the stream ended inside a record (a warning: a capture may just stop there)
    expect(inspect(clean.subarray(0, clean.length - 11)).findings).toMatchObject([{ code: 'TRUNCATED_HEADER', severity: 'warning', offset: clean.length - 11 }]);
    expect(codes(inspect(clean.subarray(0, lastStdout + 20)))).toEqual(['TRUNCATED_CONTENT']);
    expect(codes(inspect(clean.subarray(0, lastStdout + 31)))).toEqual(['TRUNCATED_PADDING']);
    // in a capture whose connection closed there, an error
    const spec = { sends: [[0, concat([begin(), params(), stdinEnd()])], [1, clean.subarray(clean.length - 56, clean.length - 30)]] as [0 | 1, Uint8Array][] };
    expect(inspect(pcap(LINK.SLL2, frames(spec, segments(spec), LINK.SLL2))).findings).toMatchObject([{ code: 'TRUNCATED_CONTENT', severity: 'error', direction: 'from-app' }]);
  });

  it('INCOMPLETE_CGI_HEADERS: STDOUT ends before the empty line', () => {
    const { bytes, at } = stream(begin(), params(), stdinEnd(), stdout(1, 'Content-Type: text/plain\r\n'), stdoutEnd(), end());
    const r = inspect(bytes);
    expect(r.findings).toMatchObject([{ code: 'INCOMPLETE_CGI_HEADERS', severity: 'error', offset: at[5] }]);
    expect(r.findings[0]!.message).toContain('26 STDOUT bytes');
  });

  it('BAD_CGI_RESPONSE, AFTER_STREAM_END, MISSING_END_REQUEST', () => {
    const { bytes, at } = stream(begin(), params(), stdinEnd(), rec(RecordType.STDIN, 1, 'more'), stdout(1, 'Status: abc\r\n\r\n'), stdoutEnd());
    expect(inspect(bytes).findings).toMatchObject([
      { code: 'AFTER_STREAM_END', offset: at[3] },
      { code: 'BAD_CGI_RESPONSE', offset: at[4], message: expect.stringContaining('BAD_CGI_STATUS') },
      { code: 'MISSING_END_REQUEST', severity: 'warning', offset: 0 },
    ]);
  });

  it('protocol errors from the codec keep its codes and offsets', () => {
    const bad = rec(RecordType.STDOUT, 1, 'x');
    bad[0] = 2; // version 2
    const { bytes, at } = stream(begin(), params(), stdinEnd(), bad);
    expect(inspect(bytes).findings[0]).toMatchObject({ code: 'BAD_VERSION', severity: 'error', offset: at[3] });
    const shortBegin = concat([new Uint8Array([1, 1, 0, 1, 0, 7, 0, 0]), new Uint8Array(7)]);
    expect(inspect(shortBegin).findings[0]).toMatchObject({ code: 'BAD_BEGIN_LENGTH', offset: 0 });
  });

  it('WRONG_DIRECTION, TCP_GAP and MISSING_END_REQUEST in captures', () => {
    const toApp = concat([begin(), params(), stdinEnd(), stdout()]); // STDOUT sent to the app
    const spec = { sends: [[0, toApp], [1, concat([stdout(), stdoutEnd(), end()])]] as [0 | 1, Uint8Array][] };
    const r = inspect(pcap(LINK.ETHERNET, frames(spec, segments(spec), LINK.ETHERNET)));
    expect(r.findings).toMatchObject([{ code: 'WRONG_DIRECTION', direction: 'to-app', offset: toApp.length - stdout().length, frame: 4 }]);

    const big = concat([begin(), params(), ...e.stream(RecordType.STDIN, 1, new Uint8Array(5000), true)]);
    const spec2 = { sends: [[0, big]] as [0 | 1, Uint8Array][], mss: 1000 };
    const segs = segments(spec2);
    const lost = segs.findIndex((s) => s.rel === 2000); // the segment with bytes 2000..2999 never captured
    const r2 = inspect(pcap(LINK.ETHERNET, frames(spec2, segs.filter((_, i) => i !== lost), LINK.ETHERNET)));
    // what follows from the gap (the request never ends) is not reported again
    expect(r2.findings).toMatchObject([{ code: 'TCP_GAP', direction: 'to-app', offset: 2000, message: expect.stringContaining('1000 bytes') }]);

    const spec3 = { sends: [[0, concat([begin(), params(), stdinEnd()])], [1, stdout()]] as [0 | 1, Uint8Array][] };
    expect(inspect(pcap(LINK.NULL, frames(spec3, segments(spec3), LINK.NULL))).findings).toMatchObject([
      { code: 'MISSING_END_REQUEST', severity: 'error', message: expect.stringContaining('the connection closed first') },
    ]);
    // the capture ends with the connection open: a warning
    const open = inspect(pcap(LINK.NULL, frames(spec3, segments({ ...spec3, noFin: true }), LINK.NULL)));
    expect(open.findings).toMatchObject([{ code: 'MISSING_END_REQUEST', severity: 'warning' }]);
  });
});

describe('reportToJSON', () => {
  it('previews as text when readable, else base64; nothing that JSON cannot carry', () => {
    const { bytes } = stream(begin(), params(), ...e.stream(RecordType.STDIN, 1, new Uint8Array([0, 1, 2, 255]), true), stdout(1, 'Content-Type: a\r\n\r\nhe'), stdoutEnd(), end());
    const json = reportToJSON(inspect(bytes)) as { conversations: { exchanges: { stdin: unknown; response: { body: unknown } }[] }[] };
    const x = json.conversations[0]!.exchanges[0]!;
    expect(x.stdin).toEqual({ complete: true, bytes: 4, truncated: false, base64: 'AAEC/w==' });
    expect(x.response.body).toEqual({ bytes: 2, truncated: false, text: 'he' });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});
