// The life of one request on a pooled connection, below Client: RequestRun routes the app's records to
// a ReplySink and ends the request once (END_REQUEST, a failure, a timeout or an abort); Replaying sends
// a request again when a kept connection lost it before any reply; Flow is the sink's flow control.
// Classes rather than closures: one set is made per request.

import type { PooledConnection, RequestEvents } from './pool.js';
import type { Client, ClientOptions, ReplyFlow, ReplySink, RequestOptions } from './client.js';
import { FastCGIError } from '../codec/errors.js';
import { ProtocolStatus } from '../codec/constants.js';

const STATUS_ERRORS: Record<number, [string, string]> = {
  [ProtocolStatus.CANT_MPX_CONN]: ['CANT_MPX_CONN', 'the app cannot take another request on this connection (FCGI_CANT_MPX_CONN)'],
  [ProtocolStatus.OVERLOADED]: ['OVERLOADED', 'the app is overloaded (FCGI_OVERLOADED)'],
  [ProtocolStatus.UNKNOWN_ROLE]: ['UNKNOWN_ROLE', 'the app does not play this role (FCGI_UNKNOWN_ROLE)'],
};

/** One request on a connection: routes the app's records to the sink, keeps its timers, and ends it once. */
export class RequestRun implements RequestEvents {
  private id = 0;
  private finished = false;
  private answered = false;
  private firstByteTimer: ReturnType<typeof setTimeout> | null = null;
  private totalTimer: ReturnType<typeof setTimeout> | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly onAbort: (() => void) | null = null;

  constructor(
    private readonly conn: PooledConnection,
    private readonly options: RequestOptions,
    private readonly timeouts: NonNullable<ClientOptions['timeouts']>,
    private readonly canRetry: boolean,
    private readonly sink: ReplySink,
  ) {
    const signal = options.signal;
    if (signal) this.onAbort = () => this.giveUp(signal.reason instanceof Error ? signal.reason : new FastCGIError('ABORTED', 'the request was aborted'));
  }

  /** The request has begun as `id`: its timers start. */
  started(id: number): void {
    this.id = id;
    const { firstByte, total } = this.timeouts;
    if (firstByte) this.firstByteTimer = setTimeout(() => this.giveUp(new FastCGIError('TIMEOUT_FIRST_BYTE', `the FastCGI app did not answer within ${firstByte} ms`)), firstByte);
    if (total) this.totalTimer = setTimeout(() => this.giveUp(new FastCGIError('TIMEOUT_TOTAL', `the FastCGI request took longer than ${total} ms`)), total);
    if (this.onAbort) this.options.signal!.addEventListener('abort', this.onAbort, { once: true });
  }

  stdout(_id: number, chunk: Uint8Array): void {
    this.touched();
    this.sink.stdout(chunk.slice()); // the caller's: it owns its buffer
  }
  stderr(_id: number, chunk: Uint8Array): void {
    this.touched();
    this.sink.stderr(chunk.slice());
  }
  end(appStatus: number, protocolStatus: number): void {
    if (protocolStatus === ProtocolStatus.REQUEST_COMPLETE) return this.finish(null, appStatus);
    const [code, message] = STATUS_ERRORS[protocolStatus] ?? ['PROTOCOL_STATUS', `the app ended the request with protocol status ${protocolStatus}`];
    this.finish(new FastCGIError(code, message));
  }
  fail(error: Error, retryable: boolean): void {
    this.finish(retryable && this.canRetry ? new RetryError(error) : error);
  }

  /** The caller gave up (timeout, abort, a body that failed): the request is dropped. */
  giveUp(error: Error): void {
    if (this.finished) return;
    this.conn.cancel(this.id);
    this.finish(error);
  }

  /** A reply byte came: the first-byte timer is done, the idle timer starts over. */
  private touched(): void {
    if (this.finished) return; // a record after a timeout or an abort: no timer to restart
    if (!this.answered) {
      this.answered = true;
      if (this.firstByteTimer) clearTimeout(this.firstByteTimer);
    }
    const idle = this.timeouts.idle;
    if (!idle) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.giveUp(new FastCGIError('TIMEOUT_IDLE', `the FastCGI app sent nothing for ${idle} ms`)), idle);
  }

  private finish(error: unknown | null, appStatus = 0): void {
    if (this.finished) return;
    this.finished = true;
    if (this.firstByteTimer) clearTimeout(this.firstByteTimer);
    if (this.totalTimer) clearTimeout(this.totalTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.onAbort) this.options.signal!.removeEventListener('abort', this.onAbort);
    if (error === null) this.sink.end(appStatus);
    else this.sink.fail(error);
  }
}

/** A sink whose request is sent again (up to `replays` times) when a kept connection lost it unanswered. */
export class Replaying implements ReplySink {
  constructor(
    private readonly client: Client,
    private readonly options: RequestOptions,
    private readonly sink: ReplySink,
    private readonly replays: number,
  ) {}
  stdout(chunk: Uint8Array): void {
    this.sink.stdout(chunk);
  }
  stderr(chunk: Uint8Array): void {
    this.sink.stderr(chunk);
  }
  end(appStatus: number): void {
    this.sink.end(appStatus);
  }
  started(flow: ReplyFlow): void {
    this.sink.started?.(flow);
  }
  fail(error: unknown): void {
    if (!(error instanceof RetryError)) return this.sink.fail(error);
    if (this.replays > 0) this.client.exchange(this.options, this.sink, this.replays - 1).catch((e: unknown) => this.sink.fail(e));
    else this.sink.fail(error.cause);
  }
}

/** Flow control a ReplySink gets for its request: the connection's, since records arrive in order on it. */
export class Flow implements ReplyFlow {
  constructor(
    private readonly conn: PooledConnection,
    private readonly id: number,
  ) {}
  pause(): void {
    this.conn.socket.pause();
  }
  resume(): void {
    this.conn.socket.resume();
  }
  cancel(): void {
    this.conn.cancel(this.id);
  }
}

/** The connection closed under a request that may be sent again. */
export class RetryError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}
