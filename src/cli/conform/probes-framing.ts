// Probes of how the app reads records: the same plain request cut, split, padded and encoded in every
// way the spec allows. A conforming app answers each exactly as it answers the plain request (the
// CGI status is compared), since the bytes mean the same request.

import { RecordType, Role } from '../../codec/constants.js';
import { concatBytes } from '../../codec/bytes.js';
import { ended, fate, judge, oneRequest, type Probe } from './probe.js';
import { filler, fourByteLengthRequest, paddedRequest, plainRequest, postParams, splitPairRequest } from './requests.js';

/** Bytes of params in the large-params probe: one record holds at most 65535. */
const LARGE_PARAMS = 64 * 1024;
/** Records for this id are sent to an app that never saw it begin (vector X13 uses 7 too). */
const INACTIVE_ID = 7;

export const FRAMING_PROBES: Probe[] = [
  {
    id: 'byte-split',
    spec: '3.3',
    vectors: ['X01'],
    sends: 'the plain request one byte per write, so that every byte boundary is a read boundary',
    says: 'records are a byte stream: where reads split them changes nothing',
    meaning: 'no client controls how TCP cuts its writes: the app is unusable over a real network',
    async run(ctx) {
      const w = await ctx.open();
      await w.sendByteByByte(concatBytes(plainRequest(ctx.encoder, { id: 1, params: ctx.params() })));
      return judge(fate(w, await w.until(ended(1)), 1, ctx, { sameStatus: true }), 'violation');
    },
  },
  {
    id: 'split-pair',
    spec: '3.3, 3.4, 5.2',
    vectors: ['N12'],
    sends: 'the params in three PARAMS records, cut inside a name-value pair (after its name length, and mid-body)',
    says: "a stream's value is independent of how its bytes are divided among records",
    meaning: 'never split a name-value pair across PARAMS records (php-src issue #16042): pack whole pairs into each record',
    run: (ctx) => oneRequest(ctx, splitPairRequest(ctx.encoder, { id: 1, params: ctx.params() }), 1, 'divergence'),
  },
  {
    id: 'four-byte-lengths',
    spec: '3.4',
    vectors: ['N05', 'N01', 'N02'],
    sends: 'every name and value length in the four-byte form, short ones too',
    says: 'a length with the high bit set is a four-byte length, whatever its value',
    meaning: 'write lengths up to 127 in one byte',
    run: (ctx) => oneRequest(ctx, fourByteLengthRequest(ctx.encoder, { id: 1, params: ctx.params() }), 1, 'divergence'),
  },
  {
    id: 'padding-0',
    spec: '3.3 (Padding)',
    vectors: ['L04'],
    sends: 'one PARAMS record per pair, none padded (records off 8-byte alignment, as mod_fastcgi sends them)',
    says: 'padding is the sender\'s choice, 0 to 255 bytes; the receiver skips paddingLength bytes',
    meaning: 'pad every record to a multiple of 8 bytes',
    run: (ctx) => oneRequest(ctx, paddedRequest(ctx.encoder, { id: 1, params: ctx.params() }, 0), 1, 'divergence'),
  },
  {
    id: 'padding-255',
    spec: '3.3 (Padding)',
    vectors: ['L01', 'L03', 'L05'],
    sends: 'every record of the request (BEGIN, one PARAMS per pair, the empty PARAMS and STDIN) with 255 bytes of padding',
    says: 'the receiver skips paddingLength bytes, up to 255',
    meaning: 'pad records only to the next multiple of 8 ((-length) & 7)',
    run: (ctx) => oneRequest(ctx, paddedRequest(ctx.encoder, { id: 1, params: ctx.params() }, 255), 1, 'divergence'),
  },
  {
    id: 'full-record-padding',
    spec: '3.3',
    vectors: ['L02'],
    sends: 'a POST whose 65535-byte body is one STDIN record with 1 byte of padding (65536 bytes after the header)',
    says: 'contentLength (up to 65535) and paddingLength (up to 255) are separate limits',
    meaning: 'keep contentLength + paddingLength within 65535 (frame streams in records of 65528 bytes)',
    run: (ctx) => {
      const body = filler(65535);
      const e = ctx.encoder;
      const parts = [e.beginRequest(1, Role.RESPONDER), e.pairs(1, postParams(ctx.params(), body.length)), e.record(RecordType.STDIN, 1, body, 1), e.record(RecordType.STDIN, 1)];
      return oneRequest(ctx, parts, 1, 'divergence', false);
    },
  },
  {
    id: 'empty-params',
    spec: '5.2, 3.3',
    vectors: [],
    sends: 'a request whose PARAMS stream is the empty record alone (no params at all)',
    says: 'a stream is zero or more non-empty records and an empty one: the app gets a request with no params',
    meaning: 'the app needs params to answer at all: always send the CGI params',
    run: (ctx) => oneRequest(ctx, plainRequest(ctx.encoder, { id: 1, params: [] }), 1, 'divergence', false),
  },
  {
    id: 'large-params',
    spec: '3.3, 5.2',
    vectors: [],
    sends: `the params plus ${LARGE_PARAMS / 1024} KiB of HTTP_X_CONFORM_* headers: several PARAMS records, no pair split`,
    says: 'PARAMS is a stream: as many records as the pairs need',
    meaning: `keep params under ${LARGE_PARAMS / 1024} KiB (the app limits what it reads)`,
    run: (ctx) => {
      const params = ctx.params();
      const value = new TextDecoder().decode(filler(1000));
      for (let i = 0; params.reduce((n, [a, b]) => n + a.length + b.length, 0) < LARGE_PARAMS; i++) params.push([`HTTP_X_CONFORM_${i}`, value]);
      return oneRequest(ctx, plainRequest(ctx.encoder, { id: 1, params }), 1, 'divergence');
    },
  },
  {
    id: 'inactive-id',
    spec: '3.3 (Managing Request IDs)',
    vectors: ['X13'],
    sends: `PARAMS and STDIN records for request ${INACTIVE_ID}, which never began, interleaved with request 1`,
    says: 'records for an inactive request id are ignored',
    meaning: 'records of a finished request (a late body after an abort) upset the app: send nothing for an id after its END_REQUEST',
    async run(ctx) {
      const e = ctx.encoder;
      const w = await ctx.open();
      const stray = [e.pairs(INACTIVE_ID, [['STRAY', 'x']], RecordType.PARAMS, false), ...e.stream(RecordType.STDIN, INACTIVE_ID, filler(2))];
      w.send(e.beginRequest(1, Role.RESPONDER), e.pairs(1, ctx.params(), RecordType.PARAMS, false), ...stray, e.record(RecordType.PARAMS, 1), e.record(RecordType.STDIN, 1));
      const f = fate(w, await w.until(ended(1)), 1, ctx, { sameStatus: true });
      if (w.reply.records.some((r) => r.requestId === INACTIVE_ID)) return { did: 'answered differently', verdict: 'violation', detail: `answered request ${INACTIVE_ID}, which never began` };
      return judge(f, 'divergence');
    },
  },
];
