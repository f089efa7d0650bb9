// One accepted socket driving one ServerConnection: bytes in, writes out (coalesced per tick, so the
// tail of a response and its END_REQUEST leave in one writev), per-request flow control, idle timeout,
// and what the server's sweep and eviction read (how long it has been idle, whether its heads stall).

import type { Socket } from 'node:net';
import { ServerConnection, type ServerConnectionHandler, type ServerConnectionOptions, type ServerRequestInfo } from '../protocol/server-connection.js';
import type { FastCGIProtocolError } from '../codec/errors.js';

/** What the server does with a started request: where its input goes. */
export interface RequestSink {
  stdin(chunk: Uint8Array): void;
  data(chunk: Uint8Array): void;
  /** FCGI_ABORT_REQUEST, or the web server hung up. */
  abort(): void;
}

/** Where a started request writes, and how it paces its input: a socket, or stdout when run as CGI. */
export interface RequestChannel {
  stdout(id: number, chunk: Uint8Array): void;
  stderr(id: number, chunk: Uint8Array): void;
  /** Ends a request; `last` goes out with the terminators and END_REQUEST in one write. */
  end(id: number, appStatus: number, last?: Uint8Array): void;
  /** True when the output buffer is full: wait for whenDrained() before writing more. */
  readonly needDrain: boolean;
  whenDrained(callback: () => void): void;
  /** A request's unread body is over maxBodyBuffer: stop reading input until relieve(). */
  congest(id: number): void;
  relieve(id: number): void;
  readonly maxBodyBuffer: number;
}

export interface SocketConnectionOptions extends ServerConnectionOptions {
  /** Close a connection with no open request after this many ms (0 = never). Default 0. */
  idleTimeout?: number;
}

export interface SocketConnectionEvents {
  /** A request's params are complete: where its input goes. */
  start(conn: SocketConnection, info: ServerRequestInfo): RequestSink;
  /** Asked on every BEGIN_REQUEST: true answers FCGI_OVERLOADED. */
  overloaded(conn: SocketConnection): boolean;
  /** After each request ends (the server checks restart-on-change and graceful close). */
  requestEnded(conn: SocketConnection): void;
  protocolError(error: FastCGIProtocolError, conn: SocketConnection): void;
  closed(conn: SocketConnection): void;
}

function ignoreError(): void {}

/**
 * Bytes of output waiting for the peer to read before we stop reading its input. Responses are paced by
 * their writers (needDrain, at 16 KiB); what the protocol answers by itself (GET_VALUES, OVERLOADED,
 * an ABORT's END_REQUEST) is not, so a peer that sends such records and never reads the answers must
 * be stopped here, or our write queue grows without end.
 */
const MAX_UNSENT = 1 << 20;

/**
 * Made once per connection, so it makes little: it is the protocol's handler itself, the server's
 * events and options are shared by all its connections, and what is rarely needed is made on first use.
 */
export class SocketConnection implements RequestChannel, ServerConnectionHandler {
  readonly socket: Socket;
  readonly protocol: ServerConnection;
  private readonly events: SocketConnectionEvents;
  private readonly sinks = new Map<number, RequestSink>();
  /** Requests whose unread body is over maxBodyBuffer: the socket stays paused while any is. */
  private congested: Set<number> | null = null;
  /** The protocol's queued requests hold all they may (ServerConnection.holdInput): paused too. */
  private held = false;
  /** More than MAX_UNSENT bytes wait to be sent: paused until they drain. */
  private backedUp = false;
  /** When it last had no request open (Date.now()): since it was accepted, or since its last request ended. */
  idleSince = Date.now();
  /** For headStalled(): since when its heads have made no progress, and how many were done then. */
  private headSince = this.idleSince;
  private headsSeen = 0;
  readonly maxBodyBuffer: number;
  private readonly idleTimeout: number;
  private corked = false;
  private drainWaiters: (() => void)[] | null = null;

  /** `options` go to the ServerConnection as they are: share one object between connections. */
  constructor(socket: Socket, events: SocketConnectionEvents, options: SocketConnectionOptions = {}) {
    this.socket = socket;
    this.events = events;
    this.maxBodyBuffer = options.maxBodyBuffer ?? 1 << 20;
    this.idleTimeout = options.idleTimeout ?? 0;
    socket.setNoDelay(true);
    this.protocol = new ServerConnection(this, options);
    const onData = (chunk: Buffer): void => this.protocol.receive(chunk);
    const onEnd = (): void => this.protocol.receiveEnd();
    const onDrain = (): void => {
      if (this.backedUp) {
        this.backedUp = false;
        this.resumeIfFree();
      }
      this.releaseDrainWaiters();
    };
    const onClose = (): void => {
      const sinks = this.sinks;
      if (sinks.size > 0) {
        for (const sink of sinks.values()) sink.abort();
        sinks.clear();
      }
      this.releaseDrainWaiters();
      events.closed(this);
      // A closed connection stays reachable for a while: under a connection per request, closed
      // connections survived the young-generation collections after their close and were promoted,
      // 7 KB per request, which made those collections long (the p99). What keeps them is outside this
      // library (a full collection frees them; a heap snapshot finds no path), so let go of all that
      // they reach: the socket's listeners and the protocol state (2.6 KB per request survive now).
      socket.off('data', onData).off('end', onEnd).off('drain', onDrain).off('close', onClose).off('timeout', onIdle);
      if (this.idleTimeout) socket.setTimeout(0);
      this.protocol.dispose();
    };
    const onIdle = (): void => {
      if (this.protocol.openRequests === 0) socket.destroy();
    };
    socket.on('data', onData).on('end', onEnd).on('drain', onDrain).on('close', onClose);
    // A peer that vanished (EPIPE, ECONNRESET) only ends its requests; nothing else is touched.
    socket.on('error', ignoreError);
    if (this.idleTimeout) socket.setTimeout(this.idleTimeout, onIdle);
  }

  // ---- RequestChannel: what a started request does

  /** True when the socket's buffer is full: wait for whenDrained() before writing more. */
  get needDrain(): boolean {
    return this.socket.writableNeedDrain;
  }
  whenDrained(callback: () => void): void {
    if (!this.socket.writableNeedDrain || this.socket.destroyed) callback();
    else (this.drainWaiters ??= []).push(callback);
  }
  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    if (waiters === null) return;
    this.drainWaiters = null;
    for (const w of waiters) w();
  }

  stdout(id: number, chunk: Uint8Array): void {
    this.protocol.stdout(id, chunk);
  }
  stderr(id: number, chunk: Uint8Array): void {
    this.protocol.stderr(id, chunk);
  }
  /** Ends a request; `last` goes out with the terminators and END_REQUEST in one write. */
  end(id: number, appStatus: number, last?: Uint8Array): void {
    this.sinks.delete(id);
    this.congested?.delete(id);
    this.protocol.end(id, appStatus, last);
    if (this.protocol.openRequests === 0) this.idleSince = Date.now();
    this.resumeIfFree();
    this.events.requestEnded(this);
  }

  /**
   * For the server's sweep: true when the peer has sent no request head (BEGIN_REQUEST through the end
   * of its PARAMS) since it connected, or left one incomplete, for longer than `timeout` ms with no head
   * completed meanwhile.
   */
  headStalled(now: number, timeout: number): boolean {
    const heads = this.protocol.heads;
    if (!heads.waiting) {
      this.headSince = 0;
      return false;
    }
    if (this.headSince === 0 || heads.done !== this.headsSeen) {
      this.headSince = now;
      this.headsSeen = heads.done;
      return false;
    }
    return now - this.headSince > timeout;
  }

  /** A request's unread body grew past maxBodyBuffer: stop reading until it is read. */
  congest(id: number): void {
    (this.congested ??= new Set()).add(id);
    this.socket.pause();
  }
  /** That request's body is being read again. */
  relieve(id: number): void {
    if (this.congested?.delete(id)) this.resumeIfFree();
  }
  private resumeIfFree(): void {
    if (!this.held && !this.backedUp && (this.congested === null || this.congested.size === 0) && this.socket.isPaused()) this.socket.resume();
  }
  holdInput(hold: boolean): void {
    this.held = hold;
    if (hold) this.socket.pause();
    else this.resumeIfFree();
  }

  // ---- ServerConnectionHandler: what the protocol asks of the socket and the server

  write(parts: Uint8Array[]): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    if (!this.corked) {
      // everything written in this turn of the event loop (promise callbacks included) leaves as one
      // writev: a response's tail and its END_REQUEST share a packet
      this.corked = true;
      socket.cork();
      setImmediate(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    for (const p of parts) socket.write(p);
    if (socket.writableLength > MAX_UNSENT && !this.backedUp) {
      this.backedUp = true;
      socket.pause();
    }
  }
  close(error?: FastCGIProtocolError): void {
    const socket = this.socket;
    if (error) {
      this.events.protocolError(error, this);
      socket.destroy();
    } else if (this.protocol.inputComplete) {
      // the peer has sent all it will: close once our bytes are out, without waiting for its FIN
      // (nginx closes an upstream connection without KEEP_CONN as soon as END_REQUEST arrives)
      socket.end(() => socket.destroy());
    } else {
      socket.end(); // it may still be writing: a close now would reset the connection under our reply
    }
  }
  request(info: ServerRequestInfo): void {
    this.sinks.set(info.requestId, this.events.start(this, info));
  }
  stdin(id: number, chunk: Uint8Array): void {
    this.sinks.get(id)?.stdin(chunk);
  }
  data(id: number, chunk: Uint8Array): void {
    this.sinks.get(id)?.data(chunk);
  }
  abort(id: number): void {
    this.sinks.get(id)?.abort();
  }
  overloaded(): boolean {
    return this.events.overloaded(this);
  }
}
