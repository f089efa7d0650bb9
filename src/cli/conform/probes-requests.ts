// Probes of one request and what the app writes back: the plain Responder request (its answer is the
// baseline other probes compare with), request ids, stream terminators, END_REQUEST's body, request
// bodies, ABORT_REQUEST and the three roles.

import { Flags, RecordType, Role, recordTypeName } from '../../codec/constants.js';
import { ended, fate, judge, oneRequest, type Probe, type ProbeContext } from './probe.js';
import { filler, plainRequest, postParams } from './requests.js';

/** A request id with both bytes nonzero, so that an app that echoes only one byte is caught. */
const WIDE_ID = 0x0102;

/** The plain request's reply, for the probes that judge what the app writes rather than whether it answers. */
async function plainReply(ctx: ProbeContext, id: number) {
  const w = await ctx.open();
  w.send(...plainRequest(ctx.encoder, { id, params: ctx.params() }));
  const f = fate(w, await w.until(ended(id)), id, ctx);
  return { w, f };
}

export const REQUEST_PROBES: Probe[] = [
  {
    id: 'responder',
    spec: '6.2',
    vectors: ['X01'],
    sends: 'a plain Responder GET: BEGIN_REQUEST, PARAMS, empty STDIN',
    says: 'STDOUT with a CGI response, then END_REQUEST(REQUEST_COMPLETE)',
    meaning: 'the app does not serve a plain request: nothing else in this table can be trusted',
    async run(ctx) {
      const { f } = await plainReply(ctx, 1);
      ctx.baseline = f.end?.status;
      return judge(f, 'violation');
    },
  },
  {
    id: 'request-id',
    spec: '3.3 (Managing Request IDs), 5.5',
    vectors: ['R02'],
    sends: `the plain request with request id ${WIDE_ID} (both bytes nonzero)`,
    says: 'every record of the reply carries the request id of the request',
    meaning: 'replies cannot be matched to requests: use request id 1 only',
    async run(ctx) {
      const { w, f } = await plainReply(ctx, WIDE_ID);
      const stray = w.reply.records.find((r) => r.requestId !== WIDE_ID && r.requestId !== 0);
      if (stray) return { did: 'answered differently', verdict: 'violation', detail: `a ${recordTypeName(stray.type)} record for request ${stray.requestId}` };
      return judge(f, 'violation');
    },
  },
  {
    id: 'terminators',
    spec: '3.3 (stream records), 6.1',
    vectors: ['X14'],
    sends: 'the plain request',
    says: 'STDOUT ends with an empty STDOUT record before END_REQUEST; STDERR, if used, ends the same way',
    meaning: 'finish a request at END_REQUEST, never wait for the empty STDOUT record',
    async run(ctx) {
      const { f } = await plainReply(ctx, 1);
      if (!f.end || f.did !== 'answered') return judge(f, 'violation');
      const missing = [!f.end.stdoutEnded && 'STDOUT', f.end.stderrBytes > 0 && !f.end.stderrEnded && 'STDERR'].filter(Boolean);
      if (missing.length === 0) return { did: 'answered', verdict: 'pass', detail: `empty STDOUT record${f.end.stderrBytes > 0 ? ' and empty STDERR record' : ''} before END_REQUEST` };
      return { did: 'answered differently', verdict: 'divergence', detail: `END_REQUEST with no empty ${missing.join(' or ')} record before it` };
    },
  },
  {
    id: 'end-reserved',
    spec: '5.5',
    vectors: ['R05', 'R08', 'X14'],
    sends: 'on one kept connection, the request with a 2000-byte query string (a longer reply, where the app echoes it), then the plain request',
    says: "END_REQUEST's body is appStatus, protocolStatus and three reserved bytes (zero, as every reserved field)",
    meaning: "ignore END_REQUEST's reserved bytes (php-fpm leaves bytes of an earlier reply in them)",
    async run(ctx) {
      // An app that reuses its output buffer without clearing it shows earlier bytes in the reserved
      // field only where an earlier, longer reply lay: hence the long reply first, on the same connection.
      const w = await ctx.open();
      const long = ctx.params().map(([n, v]): [string, string] => (n === 'QUERY_STRING' ? [n, `${v}${v ? '&' : ''}fcgi-conform-pad=${'a'.repeat(2000)}`] : [n, v]));
      w.send(...plainRequest(ctx.encoder, { id: 1, flags: Flags.KEEP_CONN, params: long }));
      const first = fate(w, await w.until(ended(1)), 1, ctx);
      if (first.did !== 'answered') return judge(first, 'violation');
      w.send(...plainRequest(ctx.encoder, { id: 1, flags: Flags.KEEP_CONN, params: ctx.params() }));
      await w.until(ended(1, 2));
      const ends = w.endsOf(1);
      const dirty = ends.filter((e) => !e.canonical).length;
      if (dirty === 0) return { did: 'answered', verdict: 'pass', detail: `reserved bytes zero in ${ends.length} END_REQUEST record(s)` };
      return { did: 'answered differently', verdict: 'divergence', detail: `reserved bytes not zero in ${dirty} of ${ends.length} END_REQUEST record(s)` };
    },
  },
  {
    id: 'large-body',
    spec: '5.3, 6.2',
    vectors: ['X02', 'W01'],
    sends: 'a POST with a 100000-byte body: STDIN records of 65528 and 34472 bytes, then the empty one',
    says: 'a stream is the concatenation of its records, whatever their number',
    meaning: 'the app cannot take bodies over one record: keep bodies under 64 KiB',
    run: (ctx) => {
      const body = filler(100_000);
      return oneRequest(ctx, plainRequest(ctx.encoder, { id: 1, params: postParams(ctx.params(), body.length), body }), 1, 'violation', false);
    },
  },
  {
    id: 'stdin-no-length',
    spec: '6.2',
    vectors: [],
    sends: 'a POST with a 10-byte body and no CONTENT_LENGTH param',
    says: 'the app reads STDIN to its end; CONTENT_LENGTH only bounds what a Responder takes',
    meaning: 'send CONTENT_LENGTH with every body',
    run: (ctx) => {
      const body = filler(10);
      return oneRequest(ctx, plainRequest(ctx.encoder, { id: 1, params: postParams(ctx.params(), body.length, false), body }), 1, 'divergence', false);
    },
  },
  {
    id: 'abort',
    spec: '5.4',
    vectors: ['X09'],
    sends: 'a POST announcing 1000 bytes, 7 of them on STDIN, then ABORT_REQUEST (KEEP_CONN set)',
    says: 'END_REQUEST(REQUEST_COMPLETE) for the aborted request, as soon as possible',
    meaning: 'abort a request by closing its connection, and do not wait for END_REQUEST after ABORT_REQUEST',
    async run(ctx) {
      const w = await ctx.open();
      const e = ctx.encoder;
      const params = postParams(ctx.params(), 1000);
      w.send(e.beginRequest(1, Role.RESPONDER, Flags.KEEP_CONN), e.pairs(1, params), ...e.stream(RecordType.STDIN, 1, filler(7)), e.abortRequest(1));
      return judge(fate(w, await w.until(ended(1)), 1, ctx), 'divergence');
    },
  },
  roleProbe('authorizer', Role.AUTHORIZER, '6.3', ['X05', 'X06'], 'an Authorizer request: no CONTENT_LENGTH, PATH_INFO, PATH_TRANSLATED or SCRIPT_NAME, empty STDIN'),
  roleProbe('filter', Role.FILTER, '6.4', ['X07', 'R12'], 'a Filter request: FCGI_DATA_LENGTH and FCGI_DATA_LAST_MOD, empty STDIN, 14 bytes of FCGI_DATA'),
  {
    id: 'unknown-role',
    spec: '5.5',
    vectors: ['X10'],
    sends: 'BEGIN_REQUEST with role 4, which FastCGI 1.0 does not define',
    says: 'END_REQUEST(UNKNOWN_ROLE)',
    meaning: 'an unknown role gets a closed connection, not UNKNOWN_ROLE: treat a close right after BEGIN_REQUEST as a refusal',
    async run(ctx) {
      const w = await ctx.open();
      w.send(...plainRequest(ctx.encoder, { id: 1, role: 4, params: ctx.params() }));
      const f = fate(w, await w.until(ended(1)), 1, ctx);
      if (f.broken) return judge(f, 'violation');
      if (f.did === 'refused' && f.end?.protocolStatus === 3) return { did: 'refused', verdict: 'pass', detail: f.detail };
      if (f.did === 'answered') return { did: 'answered', verdict: 'information', detail: `${f.detail} (served role 4)`, meaning: 'the app serves a role FastCGI 1.0 does not define' };
      return { did: f.did, verdict: 'divergence', detail: f.detail };
    },
  },
];

/** Authorizer or Filter: served, or refused with UNKNOWN_ROLE (the app's choice), but not dropped. */
function roleProbe(id: string, role: number, spec: string, vectors: string[], sends: string): Probe {
  const name = role === Role.AUTHORIZER ? 'Authorizer' : 'Filter';
  return {
    id,
    spec,
    vectors,
    sends,
    says: `the app plays the ${name} role, or refuses it with END_REQUEST(UNKNOWN_ROLE) (5.5)`,
    meaning: `the app drops ${name} requests without UNKNOWN_ROLE: do not send it that role`,
    async run(ctx) {
      const w = await ctx.open();
      const skip = role === Role.AUTHORIZER ? ['CONTENT_LENGTH', 'PATH_INFO', 'PATH_TRANSLATED', 'SCRIPT_NAME'] : [];
      const params = ctx.params().filter(([n]) => !skip.includes(n));
      const data = role === Role.FILTER ? new TextEncoder().encode('filtered data\n') : undefined;
      if (data) params.push(['FCGI_DATA_LENGTH', String(data.length)], ['FCGI_DATA_LAST_MOD', '0']);
      w.send(...plainRequest(ctx.encoder, { id: 1, role, params, ...(data ? { data } : {}) }));
      const f = fate(w, await w.until(ended(1)), 1, ctx);
      if (f.did === 'refused' && f.end?.protocolStatus === 3) return { did: 'refused', verdict: 'information', detail: `${f.detail}: no ${name} role`, meaning: `the app refuses the ${name} role as the spec says: send ${name} requests to another app` };
      return judge(f, 'divergence');
    },
  };
}
