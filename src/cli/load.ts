// The load loop behind `fcgi bench`: N connections, each sending one request at a time (closed loop, as
// wrk does), straight to the FastCGI app. It must measure the app, not itself, so it does the least a
// correct client can: the request's bytes (BEGIN_REQUEST, PARAMS, STDIN) are framed once and written
// whole for every request (with one request at a time per connection the id is always 1), and the
// reply is walked by the wasm decoder, one push per chunk, counting bytes and reading END_REQUEST.
// No pool, no promises, no timers per request (one sweep a tenth of a second finds timeouts).

import type { Socket } from 'node:net';
import { Decoder } from '../codec/decoder.js';
import { Encoder, type Pairs } from '../codec/encoder.js';
import { Flags, ProtocolStatus, RecordType, Role } from '../codec/constants.js';
import { concatBytes } from '../codec/bytes.js';
import { latin1 } from '../codec/pairs.js';
import { feed } from '../protocol/feed.js';
import { connectTo } from '../client/connect.js';

export interface LoadOptions {
  address: string;
  connections: number;
  /** Stop starting requests after this many ms (0: no limit, then `requests` must be set). */
  durationMs: number;
  /** Stop after this many requests have been started (0: no limit). */
  requests: number;
  params: Pairs;
  body: Uint8Array;
  keepAlive: boolean;
  /** A request unanswered this long fails as 'timeout' and its connection is replaced. */
  timeoutMs: number;
  /** Called about once a second while it runs. */
  progress?(sofar: LoadResult): void;
}

/** Why a request failed. */
export type ErrorKind = 'connect' | 'closed' | 'protocol' | 'timeout' | 'overloaded' | 'cant_mpx_conn' | 'unknown_role' | 'protocol_status';

export interface LoadResult {
  /** Requests the app completed (END_REQUEST with REQUEST_COMPLETE). */
  completed: number;
  /** Requests that failed, by kind. */
  errors: Partial<Record<ErrorKind, number>>;
  /** Completed requests by the CGI Status the app sent (200 when it sent none). */
  statuses: Record<number, number>;
  /** Completed requests whose appStatus was not 0. */
  appStatusNonZero: number;
  /** CGI response bytes (FCGI_STDOUT content) of completed requests. */
  stdoutBytes: number;
  /** Latency of each completed request in ms, from writing it (or connecting, without keep-alive). */
  latencies: Float64Array;
  /** From the first connection to the last request's end, ms. */
  elapsedMs: number;
}

const PROTOCOL_STATUS_KIND: Record<number, ErrorKind> = {
  [ProtocolStatus.OVERLOADED]: 'overloaded',
  [ProtocolStatus.CANT_MPX_CONN]: 'cant_mpx_conn',
  [ProtocolStatus.UNKNOWN_ROLE]: 'unknown_role',
};

/** The request's bytes for request id 1, framed once. */
function frameRequest(params: Pairs, body: Uint8Array, keepAlive: boolean): Uint8Array {
  const e = new Encoder();
  return concatBytes([e.beginRequest(1, Role.RESPONDER, keepAlive ? Flags.KEEP_CONN : 0), e.pairs(1, params), ...e.stream(RecordType.STDIN, 1, body, true)]);
}

/** The status a CGI head names ('Status: 404 ...'), 200 if none; read from the reply's first bytes. */
function statusOf(first: Uint8Array): number {
  const head = latin1(first, 0, Math.min(first.length, 512));
  const end = head.search(/\r?\n\r?\n/);
  const m = /(?:^|\n)status:[ \t]*(\d{3})/i.exec(end < 0 ? head : head.slice(0, end));
  return m ? Number(m[1]) : 200;
}

export function runLoad(o: LoadOptions): Promise<LoadResult> {
  const wire = frameRequest(o.params, o.body, o.keepAlive);
  const result: LoadResult = { completed: 0, errors: {}, statuses: {}, appStatusNonZero: 0, stdoutBytes: 0, latencies: new Float64Array(1 << 16), elapsedMs: 0 };
  let started = 0;
  let running = 0;
  const t0 = performance.now();
  let lastEnd = t0;
  const deadline = o.durationMs > 0 ? t0 + o.durationMs : Infinity;

  const record = (ms: number): void => {
    if (result.completed === result.latencies.length) {
      const grown = new Float64Array(result.latencies.length * 2);
      grown.set(result.latencies);
      result.latencies = grown;
    }
    result.latencies[result.completed++] = ms;
  };
  const fail = (kind: ErrorKind): void => {
    result.errors[kind] = (result.errors[kind] ?? 0) + 1;
  };
  /** Takes a request slot, or says the run is over. */
  const another = (): boolean => {
    if ((o.requests > 0 && started >= o.requests) || performance.now() >= deadline) return false;
    started++;
    return true;
  };

  return new Promise((resolve) => {
    const finished = (): void => {
      if (--running > 0) return;
      clearInterval(sweep);
      clearInterval(ticker);
      result.elapsedMs = lastEnd - t0;
      result.latencies = result.latencies.subarray(0, result.completed);
      resolve(result);
    };

    class Worker {
      private socket: Socket | null = null;
      private decoder: Decoder | null = null;
      /** When the request in flight started (0: none). */
      sentAt = 0;
      private sawStdout = false;
      private status = 200;
      private bytes = 0;
      private done = false;

      start(): void {
        if (!another()) return this.stop();
        this.sentAt = performance.now();
        if (this.socket) this.send();
        else this.open();
      }

      private open(): void {
        const socket = connectTo(o.address);
        this.socket = socket;
        socket.setNoDelay(true);
        let connected = false;
        const d = new Decoder({
          record: (type, id, content) => {
            // records still walked from a chunk after this connection was given up are not ours
            if (this.decoder !== d || id === 0) return; // a management record (UNKNOWN_TYPE...) is not the request's
            if (id !== 1 || this.sentAt === 0) return this.broken('protocol');
            if (type === RecordType.STDOUT && content.length > 0) {
              if (!this.sawStdout) {
                this.sawStdout = true;
                this.status = statusOf(content);
              }
              this.bytes += content.length;
            }
          },
          end: (_id, appStatus, protocolStatus) => {
            if (this.decoder === d) this.ended(appStatus, protocolStatus);
          },
        });
        this.decoder = d;
        socket.on('connect', () => {
          connected = true;
          this.send();
        });
        socket.on('data', (chunk) => {
          if (this.decoder === d) feed(d, chunk, () => this.broken('protocol'));
        });
        socket.on('error', () => {}); // 'close' follows and says what it meant
        socket.on('close', () => {
          if (this.socket !== socket) return;
          this.socket = null;
          if (this.sentAt === 0) return;
          this.sentAt = 0;
          fail(connected ? 'closed' : 'connect');
          // a refused connection is retried after a breath, not in a tight loop
          if (connected) this.start();
          else setTimeout(() => this.start(), 10);
        });
      }

      private send(): void {
        this.sawStdout = false;
        this.status = 200;
        this.bytes = 0;
        this.socket!.write(wire);
      }

      private ended(appStatus: number, protocolStatus: number): void {
        if (this.sentAt === 0) return this.broken('protocol');
        const now = performance.now();
        lastEnd = now;
        if (protocolStatus === ProtocolStatus.REQUEST_COMPLETE) {
          record(now - this.sentAt);
          result.statuses[this.status] = (result.statuses[this.status] ?? 0) + 1;
          result.stdoutBytes += this.bytes;
          if (appStatus !== 0) result.appStatusNonZero++;
        } else fail(PROTOCOL_STATUS_KIND[protocolStatus] ?? 'protocol_status');
        this.sentAt = 0;
        if (!o.keepAlive) this.drop();
        this.start();
      }

      /** The request failed on this connection: count it, replace the connection, go on. */
      broken(kind: ErrorKind): void {
        if (this.sentAt === 0 && kind !== 'protocol') return;
        fail(kind);
        lastEnd = performance.now();
        this.sentAt = 0;
        this.drop();
        this.start();
      }

      private drop(): void {
        const s = this.socket;
        this.socket = null;
        this.decoder = null;
        s?.destroy();
      }

      stop(): void {
        if (this.done) return;
        this.done = true;
        this.drop();
        finished();
      }
    }

    const workers = Array.from({ length: o.connections }, () => new Worker());
    const sweep = setInterval(() => {
      const now = performance.now();
      for (const w of workers) if (w.sentAt > 0 && now - w.sentAt > o.timeoutMs) w.broken('timeout');
    }, Math.min(100, o.timeoutMs));
    const ticker = setInterval(() => o.progress?.({ ...result, latencies: result.latencies.subarray(0, result.completed), elapsedMs: performance.now() - t0 }), 1000);
    running = o.connections;
    for (const w of workers) w.start();
  });
}
