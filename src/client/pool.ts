// Connections to one FastCGI app: a pool over TCP or a Unix socket with keep-alive, a limit, idle
// expiry, and multiplexing once the app says FCGI_MPXS_CONNS=1 (asked once with GET_VALUES, on a
// connection of its own after the first answered request, never waited for: fcgi2 does not answer, so
// requests start at one per connection).

import type { Socket } from 'node:net';
import { ClientConnection, type ClientConnectionHandler } from '../protocol/client-connection.js';
import { FastCGIError } from '../codec/errors.js';
import { ProtocolStatus } from '../codec/constants.js';
import { allocBytes, concatBytes } from '../codec/bytes.js';
import { connectWithin } from './connect.js';
import { getValues } from './get-values.js';

export interface PoolOptions {
  /** 'host:port', '[v6]:port', a Unix socket path, or 'unix:/path'. */
  address: string;
  /** Connections at most. Default 16. */
  maxConnections?: number;
  /** Keep connections open between requests (FCGI_KEEP_CONN). Default true. */
  keepAlive?: boolean;
  /** Close a pooled connection idle this long (ms). Default 30000. */
  idleTimeout?: number;
  /** Give up connecting after this long (ms). Default 5000. */
  connectTimeout?: number;
  /** Multiplex when the app allows it ('auto', asked with GET_VALUES), always (true) or never. Default 'auto'. */
  multiplex?: boolean | 'auto';
  /** How long the GET_VALUES probe waits for an answer, ms (fcgi2 does not answer a lone GET_VALUES). Default 1000. */
  probeTimeout?: number;
  /**
   * Close an idle kept connection when a request on another connection has had no answer for this
   * long (ms). An app with fewer workers than our connections (a single fcgi2 process, a small php-fpm
   * pool) sits reading the idle connection and never accepts the others: without this they wait until
   * the idle timeout. Default 50; 0 turns it off.
   */
  yieldIdleAfter?: number;
}

/** Per-request callbacks a pooled connection routes the app's records to. */
export type RequestEvents = Pick<ClientConnectionHandler, 'stdout' | 'stderr'> & {
  end(appStatus: number, protocolStatus: number): void;
  /** The connection failed or closed under the request; `retryable` when nothing of it had come back. */
  fail(error: Error, retryable: boolean): void;
};

function ignoreError(): void {}

/** One request id's place on a connection. */
interface RequestSlot {
  events: RequestEvents | null;
  /** Something of its reply came back (it cannot be sent again). */
  answered: boolean;
}

export class PooledConnection {
  readonly socket: Socket;
  readonly conn: ClientConnection;
  /** Requests this connection may carry at once (1 until the app says it multiplexes). */
  capacity = 1;
  /** Requests it has carried (a reused connection may have been closed by the app meanwhile). */
  served = 0;
  /** Slots handed out by the pool whose request has not begun yet (acquire resolves a tick later). */
  reserved = 0;
  closed = false;
  /** Ending: no new request goes on it. */
  retired = false;
  /** When it last went idle (Date.now()); 0 while in use. The pool's idle sweep closes it idleTimeout later. */
  idleSince = 0;
  /**
   * The running requests by id (ids are small: the smallest free one is used), each slot kept for the
   * next request with that id: a Map or an object per request would be garbage on every request.
   */
  private readonly slots: RequestSlot[] = [];
  private running = 0;
  /** Readers holding the socket paused (hold / letGo). */
  private pauses = 0;
  private readonly pool: Pool;

  constructor(pool: Pool, socket: Socket) {
    this.pool = pool;
    this.socket = socket;
    socket.setNoDelay(true);
    this.conn = new ClientConnection({
      write: (parts) => {
        // small parts (headers, params, a short body) go as one buffer: one write is cheaper than a
        // writev of many small pieces; large payload slices keep their own buffers
        if (parts.length === 1) {
          socket.write(parts[0]!);
          return;
        }
        let size = 0;
        for (const p of parts) size += p.length;
        if (size <= 16 * 1024) {
          socket.write(concatBytes(parts, size, allocBytes(size)));
          return;
        }
        socket.cork();
        for (const p of parts) socket.write(p);
        socket.uncork();
      },
      close: (error) => {
        this.shut(error ?? new FastCGIError('BACKEND_CLOSED', 'the FastCGI app closed the connection'));
        socket.destroy();
      },
      stdout: (id, chunk) => this.answered(id)?.stdout(id, chunk),
      stderr: (id, chunk) => this.answered(id)?.stderr(id, chunk),
      end: (id, appStatus, protocolStatus) => {
        this.unansweredSince = 0;
        // an app that said it multiplexes, then refused a second request: one request per connection from now on
        if (protocolStatus === ProtocolStatus.CANT_MPX_CONN) this.pool.learned(1);
        const events = this.take(id);
        events?.end(appStatus, protocolStatus);
        // a reader that paused the connection for a request now over must not leave it paused for the next
        if (this.running === 0 && (this.pauses > 0 || this.socket.isPaused())) {
          this.pauses = 0;
          this.socket.resume();
        }
        this.pool.released(this);
      },
    }, { pooledOutput: true }); // each output is written to the socket at once
    const onData = (chunk: Buffer): void => this.conn.receive(chunk);
    const onEnd = (): void => this.conn.receiveEnd();
    const onError = (err: Error): void => this.shut(new FastCGIError('BACKEND_ERROR', `FastCGI connection to ${pool.options.address} failed: ${err.message}`));
    const onClose = (): void => {
      this.shut(new FastCGIError('BACKEND_CLOSED', 'the FastCGI app closed the connection'));
      // as the server's connections do (SocketConnection): once closed, let go of all it reaches, so
      // that with a connection per request (keepAlive: false) closed ones die young
      socket.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose).on('error', ignoreError);
      this.conn.dispose();
    };
    socket.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  }

  get active(): number {
    return this.running;
  }
  /**
   * When its first request began, while nothing has come back on it yet (0 once anything has): a
   * connection the app never answered may be one it has not accepted.
   */
  unansweredSince = 0;
  /** Requests running or about to begin: what the capacity bounds. */
  get load(): number {
    return this.running + this.reserved;
  }
  /** Closes it once idle, taking it out of use at once (a request must not start on an ending socket). */
  retire(): void {
    this.retired = true;
    this.idleSince = 0;
    this.socket.end();
  }
  /** Takes a slot for a request about to begin. */
  reserve(): this {
    this.reserved++;
    return this;
  }

  /** Starts a request on this connection. */
  begin(events: RequestEvents, start: (conn: ClientConnection) => number): number {
    this.idleSince = 0;
    if (this.reserved > 0) this.reserved--;
    let id: number;
    try {
      id = start(this.conn);
    } catch (e) {
      this.pool.released(this); // nothing began (params the encoder refused): the connection is free
      throw e;
    }
    const slot = (this.slots[id] ??= { events: null, answered: false });
    slot.events = events;
    slot.answered = false;
    this.running++;
    if (this.served++ === 0) this.unansweredSince = Date.now();
    return id;
  }

  /**
   * A request's reader is behind: the socket stops reading until every reader that held it lets go
   * (on a multiplexed connection one request's resume must not release another's pause).
   */
  hold(): void {
    if (this.pauses++ === 0) this.socket.pause();
  }
  letGo(): void {
    if (this.pauses > 0 && --this.pauses === 0) this.socket.resume();
  }

  /** Drops a request whose caller gave up (the connection is closed unless it multiplexes). */
  cancel(id: number): void {
    if (!this.slots[id]?.events) return;
    if (this.capacity > 1) this.conn.abort(id);
    else this.socket.destroy();
  }

  /** A reply record for request `id` came: where it goes (undefined: a request already given up). */
  private answered(id: number): RequestEvents | undefined {
    const slot = this.slots[id];
    if (!slot?.events) return undefined;
    slot.answered = true;
    this.unansweredSince = 0;
    return slot.events;
  }

  /** Ends request `id`'s slot: its events, or undefined if it was not running. */
  private take(id: number): RequestEvents | undefined {
    const slot = this.slots[id];
    if (!slot?.events) return undefined;
    const events = slot.events;
    slot.events = null;
    this.running--;
    return events;
  }

  private shut(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    const lost = this.slots.filter((slot) => slot.events !== null).map((slot) => ({ events: slot.events!, answered: slot.answered }));
    this.slots.length = 0;
    this.running = 0;
    // a kept connection the app had closed before answering (php-fpm after pm.max_requests): retry
    for (const r of lost) r.events.fail(error, !r.answered && this.served > lost.length);
    this.pool.removed(this);
  }
}

export class Pool {
  readonly options: PoolOptions;
  private readonly connections = new Set<PooledConnection>();
  private connecting = 0;
  private readonly waiting: ((c: PooledConnection | Error) => void)[] = [];
  /** Requests per connection the app accepts, once it said so. */
  private capacity = 1;
  private closedPool = false;
  private probed = false;
  /** Connections at most: maxConnections, or fewer if the app's FCGI_MAX_CONNS says so. */
  private limit: number;
  private yieldTimer: ReturnType<typeof setTimeout> | null = null;
  /** One timer for the idle expiry of all connections, not one per request (each would be garbage). */
  private idleSweep: ReturnType<typeof setTimeout> | null = null;

  constructor(options: PoolOptions) {
    this.options = options;
    if (options.multiplex === true) this.capacity = 100;
    this.limit = options.maxConnections ?? 16;
  }

  get size(): number {
    return this.connections.size;
  }

  /**
   * A connection with room for one more request: an idle one, a new one, or the next one freed. With
   * `wait`, the caller stops waiting when its signal aborts (rejecting with the signal's reason) or
   * after `within` ms (rejecting with `timeout()`); a connection that comes after that is handed on.
   */
  acquire(wait?: { signal?: AbortSignal; within?: number; timeout?: () => Error }): Promise<PooledConnection> {
    if (this.closedPool) return Promise.reject(new FastCGIError('CLIENT_CLOSED', 'the client was closed'));
    const free = this.idle();
    if (free) return Promise.resolve(free);
    const coming: Promise<PooledConnection> =
      this.connections.size + this.connecting < this.limit ? this.open() : new Promise((resolve, reject) => this.waiting.push((c) => (c instanceof Error ? reject(c) : resolve(c))));
    const signal = wait?.signal;
    const within = wait?.within;
    if (!signal && !within) return coming;
    return new Promise((resolve, reject) => {
      let gaveUp = false;
      const giveUp = (error: unknown): void => {
        gaveUp = true;
        done();
        reject(error);
      };
      const onAbort = (): void => giveUp(signal!.reason);
      const timer = within ? setTimeout(() => giveUp(wait!.timeout?.() ?? new FastCGIError('TIMEOUT', `no connection within ${within} ms`)), within) : null;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      coming.then(
        (c) => {
          if (!gaveUp) return void (done(), resolve(c));
          this.unreserve(c);
        },
        (e: unknown) => {
          if (!gaveUp) giveUp(e);
        },
      );
    });
  }

  /** An open connection with room for one more request, its slot taken; null if there is none now. */
  idle(): PooledConnection | null {
    if (this.closedPool) return null;
    for (const c of this.connections) if (!c.closed && !c.retired && c.load < c.capacity) return c.reserve();
    return null;
  }

  private open(): Promise<PooledConnection> {
    let connected: Promise<Socket>;
    try {
      connected = connectWithin(this.options.address, this.options.connectTimeout ?? 5000); // BAD_ADDRESS is thrown before anything is counted
    } catch (e) {
      return Promise.reject(e);
    }
    this.connecting++;
    const failed = (error: Error): never => {
      this.connecting--;
      this.wakeWithError(error);
      throw error;
    };
    return connected.then((socket) => {
      if (this.closedPool) {
        socket.destroy(); // close() came while it was connecting
        return failed(new FastCGIError('CLIENT_CLOSED', 'the client was closed'));
      }
      this.connecting--;
      const c = new PooledConnection(this, socket);
      c.capacity = this.capacity;
      this.connections.add(c);
      return c.reserve();
    }, failed);
  }

  /** Hands back a slot the caller took but will not use: to the next waiting request, or the connection goes idle. */
  unreserve(c: PooledConnection): void {
    if (c.reserved > 0) c.reserved--;
    this.released(c);
  }

  /** A request ended on `c`: keep it for the next one, or close it. */
  released(c: PooledConnection): void {
    // Ask about multiplexing once the app has answered a request, not before: a one-process app (fcgi2)
    // accepts connections in turn, and a probe connection accepted first would hold it for probeTimeout
    if (!this.probed && (this.options.multiplex ?? 'auto') === 'auto') this.probe();
    if (c.closed || c.retired) return;
    if (this.waiting.length > 0 && c.load < c.capacity) {
      this.waiting.shift()!(c.reserve());
      return;
    }
    if (c.load > 0) return;
    if (this.options.keepAlive === false) {
      c.retire();
      return;
    }
    const idle = this.options.idleTimeout ?? 30_000;
    if (idle > 0) {
      c.idleSince = Date.now();
      if (!this.idleSweep && !this.closedPool) this.sweepIdleIn(idle);
    }
    if (this.connections.size > 1 && !this.yieldTimer) this.watchForStall();
  }

  /** Closes the connections idle for idleTimeout by then, and comes back for the next one due. */
  private sweepIdleIn(delay: number): void {
    this.idleSweep = setTimeout(() => {
      this.idleSweep = null;
      const idle = this.options.idleTimeout ?? 30_000;
      const now = Date.now();
      let next = Infinity;
      for (const c of this.connections) {
        if (c.idleSince === 0 || c.load > 0 || c.closed || c.retired) continue;
        if (now - c.idleSince >= idle) c.retire();
        else next = Math.min(next, c.idleSince + idle);
      }
      if (next !== Infinity) this.sweepIdleIn(Math.max(1, next - now));
    }, delay);
    this.idleSweep.unref?.();
  }

  /**
   * Some connection just went idle. If a newer one has carried a request for yieldIdleAfter ms without
   * a byte back, the app may be reading the idle one instead of accepting the new one: close the idle
   * ones. (A connection that has answered before is only slow, and is not a reason.)
   */
  private watchForStall(): void {
    const delay = this.options.yieldIdleAfter ?? 50;
    if (delay <= 0) return;
    let oldest = 0;
    for (const c of this.connections) if (c.unansweredSince > 0 && (oldest === 0 || c.unansweredSince < oldest)) oldest = c.unansweredSince;
    if (oldest === 0) return;
    this.yieldTimer = setTimeout(
      () => {
        this.yieldTimer = null;
        const now = Date.now();
        let stalled = false;
        for (const c of this.connections) if (c.unansweredSince > 0 && now - c.unansweredSince >= delay) stalled = true;
        if (!stalled) return this.watchForStall();
        for (const c of this.connections) if (c.load === 0 && !c.closed) c.retire();
      },
      Math.max(1, oldest + delay - Date.now()),
    );
    this.yieldTimer.unref?.();
  }

  /**
   * Asks the app whether it multiplexes, on a connection of its own that carries nothing else: a request
   * written behind GET_VALUES on one connection is lost by fcgi2 (it drops a second record batch read
   * at once, X15), and fcgi2 does not answer a GET_VALUES with nothing after it (it reads on past the
   * record's end; padded, it answers, but per process: FCGI_MAX_CONNS=1 for each process of a pre-forked
   * pool, which would cap the pool at one connection). Requests never wait for the answer; until it
   * comes, each connection carries one request.
   */
  private probe(): void {
    this.probed = true;
    getValues(this.options.address, { timeout: this.options.probeTimeout ?? 1000 }).then(
      ({ answered, values }) => {
        if (!answered || this.closedPool) return;
        // an app that gives FCGI_MAX_CONNS (its worker count): more connections would only queue
        const maxConns = Number(values.FCGI_MAX_CONNS);
        if (maxConns >= 1) this.limit = Math.min(this.limit, maxConns);
        if (values.FCGI_MPXS_CONNS === '1') this.learned(Math.max(1, Number(values.FCGI_MAX_REQS) || 100));
      },
      () => {}, // the requests' own connections report a connect failure
    );
  }

  /** The app answered GET_VALUES: apply its capacity to every connection. */
  learned(capacity: number): void {
    this.capacity = capacity;
    for (const c of this.connections) c.capacity = capacity;
    while (this.waiting.length > 0) {
      const free = [...this.connections].find((c) => !c.closed && !c.retired && c.load < c.capacity);
      if (!free) break;
      this.waiting.shift()!(free.reserve());
    }
  }

  removed(c: PooledConnection): void {
    this.connections.delete(c);
    // someone waiting gets a fresh connection in its place
    if (this.waiting.length > 0 && !this.closedPool) {
      const next = this.waiting.shift()!;
      this.open().then(next, next);
    }
  }

  private wakeWithError(err: Error): void {
    // callers waiting for a connection that could not be made hear about it rather than hang
    if (this.connections.size === 0) for (const w of this.waiting.splice(0)) w(err);
  }

  close(): void {
    this.closedPool = true;
    if (this.yieldTimer) clearTimeout(this.yieldTimer);
    if (this.idleSweep) clearTimeout(this.idleSweep);
    for (const w of this.waiting.splice(0)) w(new FastCGIError('CLIENT_CLOSED', 'the client was closed'));
    for (const c of this.connections) c.socket.destroy();
  }
}
