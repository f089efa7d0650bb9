// Probes of management records (request id 0), each sent on a fresh connection before any request:
// FCGI_GET_VALUES and an unknown management record type.

import { RecordType, Values } from '../../codec/constants.js';
import type { Judged, Probe, ProbeContext, Waited } from './probe.js';
import type { Wire } from './wire.js';

const ALL_VALUES = [Values.MAX_CONNS, Values.MAX_REQS, Values.MPXS_CONNS];
/** A variable name no app knows (the spec's set is open-ended, 4.1). */
const UNKNOWN_NAME = 'FCGI_CONFORM_NO_SUCH_VALUE';
/** A management record type FastCGI 1.0 does not define (the vectors use 12 too). */
const UNKNOWN_TYPE = 12;

/** No answer to a management record: silence until the deadline, a closed connection, or a broken reply. */
function silence(w: Wire, how: Waited, ctx: ProbeContext, asked: string): Judged {
  const r = w.reply;
  if (r.error) return { did: 'answered differently', verdict: 'violation', detail: `its reply broke the protocol: ${r.error.message}` };
  if (how === 'timeout') return { did: 'hung', verdict: 'divergence', detail: `no answer to ${asked} within ${ctx.timeout} ms` };
  return { did: 'closed', verdict: 'divergence', detail: `${r.closed === 'reset' ? 'reset' : 'closed'} the connection without answering ${asked}` };
}

const listed = (values: [string, string][]): string => (values.length === 0 ? 'no values' : values.map(([n, v]) => `${n}=${v}`).join(' '));

async function askValues(ctx: ProbeContext, names: string[]): Promise<{ w: Wire; how: Waited }> {
  const w = await ctx.open();
  w.send(ctx.encoder.getValues(names));
  return { w, how: await w.until((r) => r.values !== null) };
}

export const MANAGEMENT_PROBES: Probe[] = [
  {
    id: 'get-values',
    spec: '4.1',
    vectors: ['R13', 'R14'],
    sends: 'FCGI_GET_VALUES for FCGI_MAX_CONNS, FCGI_MAX_REQS and FCGI_MPXS_CONNS, before any request',
    says: 'FCGI_GET_VALUES_RESULT with the values, at any time; the FastCGI library answers, not the app',
    meaning: 'ask on a connection of its own and never wait for the answer (an fcgi2 app answers only once more bytes follow the record: see get-values-padded)',
    async run(ctx) {
      const { w, how } = await askValues(ctx, ALL_VALUES);
      const values = w.reply.values;
      if (values === null) return silence(w, how, ctx, 'FCGI_GET_VALUES');
      const missing = ALL_VALUES.filter((n) => !values.some(([name]) => name === n));
      if (missing.length === 0) return { did: 'answered', verdict: 'pass', detail: listed(values) };
      return { did: 'answered differently', verdict: 'information', detail: `${listed(values)}; not given: ${missing.join(', ')}`, meaning: `the app does not say ${missing.join(' or ')}: take them from its configuration` };
    },
  },
  {
    id: 'get-values-padded',
    spec: '4.1, 3.3 (Padding)',
    vectors: ['R13', 'L05'],
    sends: 'the same FCGI_GET_VALUES with 8 bytes of padding, before any request',
    says: 'FCGI_GET_VALUES_RESULT with the values, however the record is padded',
    meaning: 'the app answers GET_VALUES in no form: assume one request per connection',
    async run(ctx) {
      // fcgi2 reads more input before it sees that a record ended, when the record's last byte is the
      // last byte it has read (fcgiapp.c FillBuffProc): an unpadded GET_VALUES waits for bytes behind it.
      const w = await ctx.open();
      w.send(ctx.encoder.record(RecordType.GET_VALUES, 0, ctx.encoder.pairsBody(ALL_VALUES.map((n) => [n, ''])), 8));
      const how = await w.until((r) => r.values !== null);
      if (w.reply.values === null) return silence(w, how, ctx, 'FCGI_GET_VALUES');
      return { did: 'answered', verdict: 'pass', detail: listed(w.reply.values) };
    },
  },
  {
    id: 'get-values-unknown',
    spec: '4.1',
    vectors: ['X08'],
    sends: `FCGI_GET_VALUES for FCGI_MPXS_CONNS and ${UNKNOWN_NAME}, before any request`,
    says: 'FCGI_GET_VALUES_RESULT without the name the app does not understand',
    meaning: 'read only the values asked for, and never wait for the answer',
    async run(ctx) {
      const { w, how } = await askValues(ctx, [Values.MPXS_CONNS, UNKNOWN_NAME]);
      const values = w.reply.values;
      if (values === null) return silence(w, how, ctx, 'FCGI_GET_VALUES');
      if (values.some(([n]) => n === UNKNOWN_NAME)) return { did: 'answered differently', verdict: 'divergence', detail: `answered the unknown name: ${listed(values)}` };
      return { did: 'answered', verdict: 'pass', detail: `${listed(values)} (the unknown name left out)` };
    },
  },
  {
    id: 'unknown-type',
    spec: '4.2',
    vectors: ['X12', 'R16'],
    sends: `a management record of type ${UNKNOWN_TYPE} (undefined in FastCGI 1.0) with 3 content bytes, before any request`,
    says: `FCGI_UNKNOWN_TYPE naming type ${UNKNOWN_TYPE}`,
    meaning: 'send no record type the app may not know, or do not wait for FCGI_UNKNOWN_TYPE',
    async run(ctx) {
      const w = await ctx.open();
      w.send(ctx.encoder.record(UNKNOWN_TYPE, 0, new Uint8Array([0x61, 0x62, 0x63])));
      const how = await w.until((r) => r.unknownTypes.length > 0 || r.records.some((rec) => rec.type === RecordType.UNKNOWN_TYPE));
      const types = w.reply.unknownTypes;
      if (types.length === 0) return silence(w, how, ctx, `a record of type ${UNKNOWN_TYPE}`);
      if (types[0] !== UNKNOWN_TYPE) return { did: 'answered differently', verdict: 'violation', detail: `FCGI_UNKNOWN_TYPE naming type ${types[0]}` };
      return { did: 'answered', verdict: 'pass', detail: `FCGI_UNKNOWN_TYPE {${UNKNOWN_TYPE}}` };
    },
  },
];
