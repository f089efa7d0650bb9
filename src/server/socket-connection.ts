// One accepted socket driving one ServerConnection: bytes in, writes out (coalesced per tick, so the
// tail of a response and its END_REQUEST leave in one writev), per-request flow control, idle timeout.

import type { Socket } from 'node:net';
import { ServerConnection, type ServerConnectionOptions, type ServerRequestInfo } from '../protocol/server-connection.js';
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
  /** Body bytes one request may buffer unread before the socket is paused. Default 1 MiB. */
  maxBodyBuffer?: number;
}

export interface SocketConnectionEvents {
  start(channel: RequestChannel, info: ServerRequestInfo): RequestSink;
  protocolError(error: FastCGIProtocolError, conn: SocketConnection): void;
  closed(conn: SocketConnection): void;
}

function ignoreError(): void {}

export class SocketConnection implements RequestChannel {
  readonly socket: Socket;
  readonly protocol: ServerConnection;
  private readonly sinks = new Map<number, RequestSink>();
  /** Requests whose unread body is over maxBodyBuffer: the socket stays paused while any is. */
  private readonly congested = new Set<number>();
  readonly maxBodyBuffer: number;
  private corked = false;
  /** Called after each request ends (the server checks restart-on-change and graceful close). */
  onRequestEnd: (() => void) | null = null;
  private drainWaiters: (() => void)[] = [];

  constructor(socket: Socket, events: SocketConnectionEvents, options: SocketConnectionOptions = {}) {
    this.socket = socket;
    this.maxBodyBuffer = options.maxBodyBuffer ?? 1 << 20;
    socket.setNoDelay(true);
    this.protocol = new ServerConnection(
      {
        write: (parts) => this.write(parts),
        close: (error) => {
          if (error) {
            events.protocolError(error, this);
            socket.destroy();
          } else if (this.protocol.inputComplete) {
            // the peer has sent all it will: close once our bytes are out, without waiting for its FIN
            // (nginx closes an upstream connection without KEEP_CONN as soon as END_REQUEST arrives)
            socket.end(() => socket.destroy());
          } else {
            socket.end(); // it may still be writing: a close now would reset the connection under our reply
          }
        },
        request: (info) => this.sinks.set(info.requestId, events.start(this, info)),
        stdin: (id, chunk) => this.sinks.get(id)?.stdin(chunk),
        data: (id, chunk) => this.sinks.get(id)?.data(chunk),
        abort: (id) => this.sinks.get(id)?.abort(),
      },
      { ...options, pooledOutput: true }, // each output is written to the socket at once
    );
    const onData = (chunk: Buffer): void => this.protocol.receive(chunk);
    const onEnd = (): void => this.protocol.receiveEnd();
    const onDrain = (): void => {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    };
    const onClose = (): void => {
      for (const sink of this.sinks.values()) sink.abort();
      this.sinks.clear();
      onDrain();
      events.closed(this);
      // Node keeps a closed socket alive through the next scavenges (the young-generation collections;
      // a plain net server shows it too), and with it all that its listeners reach. Let go of this
      // connection, so that under a connection per request its state dies young instead of being
      // promoted and collected by the slower full collections.
      socket.off('data', onData).off('end', onEnd).off('drain', onDrain).off('close', onClose).off('timeout', onIdle);
      if (options.idleTimeout) socket.setTimeout(0);
    };
    const onIdle = (): void => {
      if (this.protocol.openRequests === 0) socket.destroy();
    };
    socket.on('data', onData).on('end', onEnd).on('drain', onDrain).on('close', onClose);
    // A peer that vanished (EPIPE, ECONNRESET) only ends its requests; nothing else is touched.
    socket.on('error', ignoreError);
    if (options.idleTimeout) socket.setTimeout(options.idleTimeout, onIdle);
  }

  /** True when the socket's buffer is full: wait for whenDrained() before writing more. */
  get needDrain(): boolean {
    return this.socket.writableNeedDrain;
  }
  whenDrained(callback: () => void): void {
    if (!this.socket.writableNeedDrain || this.socket.destroyed) callback();
    else this.drainWaiters.push(callback);
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
    this.congested.delete(id);
    this.protocol.end(id, appStatus, last);
    this.resumeIfFree();
    this.onRequestEnd?.();
  }

  /** A request's unread body grew past maxBodyBuffer: stop reading until it is read. */
  congest(id: number): void {
    this.congested.add(id);
    this.socket.pause();
  }
  /** That request's body is being read again. */
  relieve(id: number): void {
    if (this.congested.delete(id)) this.resumeIfFree();
  }
  private resumeIfFree(): void {
    if (this.congested.size === 0 && this.socket.isPaused()) this.socket.resume();
  }

  private write(parts: Uint8Array[]): void {
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
  }
}
