// Probes of several requests on one connection: multiplexed, pipelined, and FCGI_KEEP_CONN set or not.

import { Flags } from '../../codec/constants.js';
import { ended, fate, judge, type Probe } from './probe.js';
import { interleavedRequests, plainRequest } from './requests.js';

/** How long after END_REQUEST a connection the app means to close must be closed. */
const CLOSE_GRACE = 200;

export const CONNECTION_PROBES: Probe[] = [
  {
    id: 'multiplex',
    spec: '3.3, 5.5',
    vectors: ['X04', 'X11'],
    sends: 'requests 1 and 2 on one connection, their records interleaved (both with KEEP_CONN)',
    says: 'both answered (the app multiplexes), or request 2 refused with END_REQUEST(CANT_MPX_CONN)',
    meaning: 'the second request is lost, not refused: never multiplex on this app',
    async run(ctx) {
      const w = await ctx.open();
      const params = ctx.params();
      w.send(...interleavedRequests(ctx.encoder, { id: 1, flags: Flags.KEEP_CONN, params }, { id: 2, flags: Flags.KEEP_CONN, params }));
      const how = await w.until((r) => ended(1)(r) && ended(2)(r));
      const [one, two] = [fate(w, how, 1, ctx), fate(w, how, 2, ctx)];
      if (one.broken) return judge(one, 'violation');
      if (one.did === 'answered' && two.did === 'answered') return { did: 'answered', verdict: 'pass', detail: 'answered both: the app multiplexes' };
      if (one.did === 'answered' && two.did === 'refused') return { did: 'refused', verdict: 'information', detail: `request 2: ${two.detail}; the app does not multiplex`, meaning: 'the app does not multiplex: one request at a time per connection' };
      const lost = one.did === 'answered' ? two : one;
      return { did: lost.did, verdict: 'divergence', detail: `request ${lost === one ? 1 : 2}: ${lost.detail}` };
    },
  },
  {
    id: 'pipelined',
    spec: '3.3 (Managing Request IDs), 5.1',
    vectors: ['X15'],
    sends: 'two requests with request id 1 and KEEP_CONN, the second right behind the first in the same write',
    says: 'both answered, one after the other (the web server re-uses request ids)',
    meaning: 'the second request is lost: send a request on a kept connection only after the previous END_REQUEST',
    async run(ctx) {
      const w = await ctx.open();
      const request = plainRequest(ctx.encoder, { id: 1, flags: Flags.KEEP_CONN, params: ctx.params() });
      w.send(...request, ...request);
      const how = await w.until(ended(1, 2));
      const first = fate(w, how, 1, ctx);
      if (first.did !== 'answered') return judge(first, 'violation');
      const second = fate(w, how, 1, ctx, { nth: 1 });
      return judge(second, 'divergence');
    },
  },
  {
    id: 'keep-conn',
    spec: '5.1, 3.5',
    vectors: ['R02', 'X02'],
    sends: 'a request with FCGI_KEEP_CONN, then, once answered, a second one on the same connection',
    says: 'with KEEP_CONN the app leaves the connection open after the request; the web server closes it',
    meaning: 'the app closes kept connections: expect a new connection per request',
    async run(ctx) {
      const w = await ctx.open();
      const request = plainRequest(ctx.encoder, { id: 1, flags: Flags.KEEP_CONN, params: ctx.params() });
      w.send(...request);
      const first = fate(w, await w.until(ended(1)), 1, ctx);
      if (first.did !== 'answered') return judge(first, 'violation');
      await w.until((r) => r.closed !== null, CLOSE_GRACE);
      if (w.reply.closed) return { did: 'closed', verdict: 'divergence', detail: `${w.reply.closed === 'reset' ? 'reset' : 'closed'} the connection after the first request although KEEP_CONN was set` };
      w.send(...request);
      const second = fate(w, await w.until(ended(1, 2)), 1, ctx, { nth: 1 });
      return judge(second.did === 'answered' ? { ...second, detail: 'kept the connection open and answered a second request on it' } : second, 'divergence');
    },
  },
  {
    id: 'no-keep-conn',
    spec: '5.1, 3.5',
    vectors: ['R01'],
    sends: 'a request without FCGI_KEEP_CONN',
    says: 'the app closes the connection after END_REQUEST',
    meaning: 'the app leaves connections open: close each connection yourself after END_REQUEST',
    async run(ctx) {
      const w = await ctx.open();
      w.send(...plainRequest(ctx.encoder, { id: 1, params: ctx.params() }));
      const f = fate(w, await w.until(ended(1)), 1, ctx);
      if (f.did !== 'answered') return judge(f, 'violation');
      await w.until((r) => r.closed !== null);
      if (w.reply.closed) return { did: 'answered', verdict: 'pass', detail: `closed the connection after END_REQUEST${w.reply.closed === 'reset' ? ' (with a reset)' : ''}` };
      return { did: 'answered differently', verdict: 'divergence', detail: `left the connection open ${ctx.timeout} ms after END_REQUEST` };
    },
  },
];
