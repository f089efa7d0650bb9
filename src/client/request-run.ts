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

/**
 * When a request may be sent again (by a Replaying sink): NEVER; REFUSED, only if the app refused it
 * unrun (CANT_MPX_CONN); LOST_OR_REFUSED, that or if a kept connection was lost before any reply.
 */
export const Retry = { NEVER: 0, REFUSED: 1, LOST_OR_REFUSED: 2 } as const;
export type Retry = (typeof Retry)[keyof typeof Retry];

/** One request on a connection: routes the app's records to the sink, keeps its timers, and ends it once. */
export class RequestRun implements RequestEvents {
  private id = 0;
  private finished = false;
  private answered = false;
  private firstByteTimer: ReturnType<typeof setTimeout> | null = null;
  private totalTimer: ReturnType<typeof setTimeout> | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly onAbort: (() => void) | null = null;
  /** The whole request has been handed to the connection (the first-byte timer may run). */
  private bodySent = false;
  /** Its reader holds the connection paused (no read timer runs). */
  private suspended = false;
  /** Called once when it finishes: the body's sender lets go of its source and stops waiting. */
  onFinish: (() => void) | null = null;
  get sendTimeout(): number | undefined {
    return this.timeouts.idle;
  }

  constructor(
    private readonly conn: PooledConnection,
    private readonly options: RequestOptions,
    private readonly timeouts: NonNullable<ClientOptions['timeouts']>,
    private readonly retry: Retry,
    private readonly sink: ReplySink,
    /** Told of every stderr chunk too (the Client's 'stderr' event). */
    private readonly client: Client | null = null,
  ) {
    const signal = options.signal;
    if (signal) this.onAbort = () => this.giveUp(signal.reason instanceof Error ? signal.reason : new FastCGIError('ABORTED', 'the request was aborted'));
  }

  /**
   * The request has begun as `id`, `waited` ms after the caller asked (for a connection): the total
   * timer starts with what is left of its time, and the abort signal is listened to.
   */
  started(id: number, waited = 0): void {
    this.id = id;
    const total = this.timeouts.total;
    if (total) this.totalTimer = setTimeout(() => this.giveUp(new FastCGIError('TIMEOUT_TOTAL', `the FastCGI request took longer than ${total} ms`)), Math.max(1, total - waited));
    if (this.onAbort) {
      this.options.signal!.addEventListener('abort', this.onAbort, { once: true });
      if (this.options.signal!.aborted) this.onAbort(); // between the caller's check and now
    }
  }

  /**
   * The whole request (its body included) has been handed to the connection: the first-byte timer
   * starts now, as nginx's read timeout does once the request is sent, so a slow upload is not cut.
   */
  sent(): void {
    this.bodySent = true;
    this.armReadTimer();
  }

  /** Its reader paused the connection: no read timer runs meanwhile. */
  suspend(): void {
    this.suspended = true;
    if (this.firstByteTimer) clearTimeout(this.firstByteTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.firstByteTimer = this.idleTimer = null;
  }
  unsuspend(): void {
    this.suspended = false;
    this.armReadTimer();
  }

  /** The first-byte timer once the request is sent, then the idle timer after each reply byte. */
  private armReadTimer(): void {
    if (this.finished || this.suspended) return;
    if (!this.answered) {
      if (!this.bodySent) return;
      const firstByte = this.timeouts.firstByte;
      if (!firstByte || this.firstByteTimer) return;
      this.firstByteTimer = setTimeout(() => this.giveUp(new FastCGIError('TIMEOUT_FIRST_BYTE', `the FastCGI app did not answer within ${firstByte} ms of the request`)), firstByte);
      return;
    }
    const idle = this.timeouts.idle;
    if (!idle) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.giveUp(new FastCGIError('TIMEOUT_IDLE', `the FastCGI app sent nothing for ${idle} ms`)), idle);
  }

  get requestId(): number {
    return this.id;
  }

  /** Given up or ended: nothing more goes to the sink, and a body still streaming stops. */
  get isFinished(): boolean {
    return this.finished;
  }

  stdout(_id: number, chunk: Uint8Array): void {
    if (this.finished) return; // after an abort or a timeout, a multiplexing app may still send some
    this.touched();
    // a view of the socket's chunk, which node:net never reuses: it stays valid (README, the codec)
    this.sink.stdout(chunk);
  }
  /** stderr is handed on as a view of the bytes received: whoever keeps any copies what it keeps (STDERR_KEPT). */
  stderr(_id: number, chunk: Uint8Array): void {
    if (this.finished) return;
    this.touched();
    this.client?.emit('stderr', chunk, this.options.params);
    this.sink.stderr(chunk);
  }
  end(appStatus: number, protocolStatus: number): void {
    if (protocolStatus === ProtocolStatus.REQUEST_COMPLETE) return this.finish(null, appStatus);
    const [code, message] = STATUS_ERRORS[protocolStatus] ?? ['PROTOCOL_STATUS', `the app ended the request with protocol status ${protocolStatus}`];
    const error = new FastCGIError(code, message);
    // refused before it ran: the pool now puts one request per connection, so it can go again
    const refused = protocolStatus === ProtocolStatus.CANT_MPX_CONN && !this.answered && this.retry !== Retry.NEVER;
    this.finish(refused ? new RetryError(error) : error);
  }
  fail(error: Error, retryable: boolean): void {
    this.finish(retryable && this.retry === Retry.LOST_OR_REFUSED ? new RetryError(error) : error);
  }

  /** The caller gave up (timeout, abort, a body that failed): the request is dropped. */
  giveUp(error: Error): void {
    if (this.finished) return;
    this.conn.cancel(this.id);
    this.finish(error);
  }

  /** A reply byte came: the first-byte timer is done, the idle timer starts over. */
  private touched(): void {
    if (!this.answered) {
      this.answered = true;
      if (this.firstByteTimer) clearTimeout(this.firstByteTimer);
      this.firstByteTimer = null;
    }
    if (this.timeouts.idle) this.armReadTimer();
  }

  private finish(error: unknown | null, appStatus = 0): void {
    if (this.finished) return;
    this.finished = true;
    if (this.firstByteTimer) clearTimeout(this.firstByteTimer);
    if (this.totalTimer) clearTimeout(this.totalTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.onAbort) this.options.signal!.removeEventListener('abort', this.onAbort);
    this.onFinish?.();
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
  gone(): boolean {
    return this.sink.gone?.() ?? false;
  }
  fail(error: unknown): void {
    if (!(error instanceof RetryError)) return this.sink.fail(error);
    if (this.replays > 0) this.client.exchange(this.options, this.sink, this.replays - 1).catch((e: unknown) => this.sink.fail(e));
    else this.sink.fail(error.cause);
  }
}

/**
 * Flow control a ReplySink gets for its request: the connection's, since records arrive in order on it
 * (pausing a multiplexed connection holds its other requests too). Cancelling gives the request up
 * (ABORT_REQUEST on a multiplexed connection, closing a plain one) and lets go of a pause it made.
 */
export class Flow implements ReplyFlow {
  private paused = false;
  constructor(
    private readonly conn: PooledConnection,
    private readonly run: RequestRun,
  ) {}
  /** The reader is behind: the connection stops, and so do the request's read timers (the wait is not the app's). */
  pause(): void {
    if (this.paused || this.run.isFinished) return;
    this.paused = true;
    this.conn.hold();
    this.run.suspend();
  }
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.conn.letGo();
    this.run.unsuspend();
  }
  cancel(): void {
    this.run.giveUp(new FastCGIError('CANCELLED', 'the reply was cancelled by its reader'));
    this.resume();
  }
}

/** The connection closed under a request that may be sent again. */
export class RetryError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}
