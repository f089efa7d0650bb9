// FcgiServer: the application side on node:net (Node, Deno and Bun provide it). Listens on TCP, a Unix
// socket or the inherited fd 0; with no address and no socket on fd 0 it answers once as a CGI program.
// Lifecycle like node's http.Server ('listening', 'connection', 'request'-style handlers, 'close'),
// plus what a FastCGI app needs: FCGI_WEB_SERVER_ADDRS, graceful SIGTERM/SIGUSR1, restart on change.

import { createServer as createNetServer, type Server as NetServer, type Socket, type AddressInfo, isIPv4 } from 'node:net';
import { EventEmitter } from 'node:events';
import { chmodSync, fstatSync, statSync, unlinkSync, existsSync } from 'node:fs';
import { SocketConnection, type RequestChannel, type RequestSink, type SocketConnectionEvents, type SocketConnectionOptions } from './socket-connection.js';
import { startNodeRequest, type NodeHandler } from './node-http.js';
import { startFetchRequest, type FetchHandler } from './fetch.js';
import { runCgi } from './cgi.js';
import type { ServerRequestInfo } from '../protocol/server-connection.js';

export interface ServerOptions extends SocketConnectionOptions {
  /**
   * Connections at once. A connection that comes when all are open takes the place of the one idle
   * longest (no request started on it), as nginx reuses its keep-alive connections; when none is idle,
   * its requests get OVERLOADED. Default 1024.
   */
  maxConnections?: number;
  /**
   * Most milliseconds a connection may take to send a request head (BEGIN_REQUEST through the end of
   * its PARAMS): counted from the connection's accept for its first request, and while any head is
   * incomplete. A web server sends a head in one write; a peer that does not is closed. 0 = never.
   * Default 10000.
   */
  handshakeTimeout?: number;
  /** Peers allowed to connect over TCP; default: $FCGI_WEB_SERVER_ADDRS (comma-separated), else anyone. */
  webServerAddrs?: string[];
  /** Unix socket file mode, e.g. 0o660. */
  socketMode?: number;
  /** SIGTERM / SIGUSR1 / SIGINT: stop accepting, finish in-flight requests, exit. Default true for serve(). */
  handleSignals?: boolean;
  /** Most milliseconds a graceful stop waits for in-flight requests. Default 30000. */
  gracePeriod?: number;
  /**
   * Exit (code 0) after the current requests when this file's mtime changes, for a process manager to
   * start the new version: true watches the entry script (process.argv[1]).
   */
  restartOnChange?: boolean | string;
  /**
   * Exit (code 0) once this many requests have started, after they finish, for a process manager to
   * start a fresh process (php-fpm's pm.max_requests, PHP_FCGI_MAX_REQUESTS). Default: never.
   */
  exitAfterRequests?: number;
  /** Where protocol errors and lifecycle notes go. Default: console.error. */
  log?: (message: string) => void;
}

export type ListenTarget = number | string | { port?: number; host?: string; path?: string; fd?: number; backlog?: number };

type Starter = (channel: RequestChannel, info: ServerRequestInfo) => RequestSink;

export class FcgiServer extends EventEmitter {
  /** Read when the server is made: changing them later does not reach its connections. */
  readonly options: Readonly<ServerOptions>;
  private readonly starter: Starter;
  private readonly net: NetServer;
  private readonly connections = new Set<SocketConnection>();
  /** Connections that have carried a request: after close() only these are ended when idle and refused new requests. */
  private readonly used = new WeakSet<SocketConnection>();
  private readonly allowed: Set<string> | null;
  private closing = false;
  private unixPath: string | null = null;
  private watched: { file: string; mtime: number } | null = null;
  private readonly log: (message: string) => void;
  /** Checks every connection's request heads against handshakeTimeout while there are connections. */
  private sweep: ReturnType<typeof setInterval> | null = null;
  /** Requests served since start (for process managers and tests). */
  requestsServed = 0;
  /** What every connection is given: one object for all, so that accepting a connection makes little. */
  private readonly connectionOptions: SocketConnectionOptions & { maxConnections: number };
  private readonly connectionEvents: SocketConnectionEvents = {
    start: (conn, info) => {
      this.used.add(conn);
      this.requestsServed++;
      return this.starter(conn, info);
    },
    // asked per request, so a kept connection is served again once the others have gone
    overloaded: (conn) => (this.closing && this.used.has(conn)) || this.connections.size > this.connectionOptions.maxConnections,
    requestEnded: (conn) => this.afterRequests(conn),
    protocolError: (error, conn) => {
      this.log(`fcgi-wasm: closed a connection from ${conn.socket.remoteAddress ?? 'a local peer'}: ${error.message}`);
      this.emit('protocolError', error);
    },
    closed: (conn) => {
      this.connections.delete(conn);
      if (this.connections.size === 0 && this.sweep !== null) {
        clearInterval(this.sweep);
        this.sweep = null;
      }
      if (this.closing && this.connections.size === 0) this.emit('drained');
    },
  };

  constructor(starter: Starter, options: ServerOptions = {}) {
    super();
    this.options = options;
    this.starter = starter;
    // pooledOutput: a connection writes each output to its socket at once (SocketConnection.write)
    this.connectionOptions = { ...options, maxConnections: options.maxConnections ?? 1024, pooledOutput: true };
    this.log = options.log ?? ((m) => console.error(m));
    const addrs = options.webServerAddrs ?? (process.env.FCGI_WEB_SERVER_ADDRS ? process.env.FCGI_WEB_SERVER_ADDRS.split(',') : null);
    this.allowed = addrs ? new Set(addrs.map((a) => normalizeAddress(a.trim())).filter((a) => a !== '')) : null;
    // allowHalfOpen: a web server may send its whole request and then shut its side (FIN); the reply still goes out
    this.net = createNetServer({ noDelay: true, pauseOnConnect: false, allowHalfOpen: true }, (socket) => this.accept(socket));
    this.net.on('error', (err) => this.emit('error', err));
    this.net.on('listening', () => this.emit('listening'));
    if (options.restartOnChange) {
      const file = typeof options.restartOnChange === 'string' ? options.restartOnChange : process.argv[1];
      if (file) this.watched = { file, mtime: mtimeOf(file) };
    }
  }

  /**
   * Listens on a TCP port, a Unix socket path or {fd}. With no target: fd 0 when it is a socket (a web
   * server or process manager started us), otherwise runs once as a CGI program and exits.
   */
  listen(target?: ListenTarget, callback?: () => void): this {
    if (callback) this.once('listening', callback);
    if (target === undefined) {
      if (stdinIsSocket()) target = { fd: 0 };
      else {
        void runCgi(this.starter).then((code) => process.exit(code));
        return this;
      }
    }
    if (typeof target === 'number') target = { port: target, host: '127.0.0.1' };
    else if (typeof target === 'string') target = /^\d+$/.test(target) ? { port: Number(target), host: '127.0.0.1' } : { path: target };
    if (target.path) {
      if (existsSync(target.path) && statSync(target.path).isSocket()) unlinkSync(target.path); // a stale socket file
      this.unixPath = target.path;
      this.net.once('listening', () => {
        if (this.options.socketMode !== undefined) chmodSync(target.path!, this.options.socketMode);
      });
    }
    if (this.options.handleSignals) this.installSignals();
    this.net.listen(target);
    return this;
  }

  address(): AddressInfo | string | null {
    return this.net.address();
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Stops accepting; requests in flight finish (new ones get OVERLOADED), then 'close'. After
   * `gracePeriod` ms the remaining connections are destroyed.
   */
  close(callback?: (err?: Error) => void): this {
    if (callback) this.once('close', callback);
    if (this.closing) return this;
    this.closing = true;
    this.net.close();
    const grace = setTimeout(() => {
      for (const c of this.connections) c.socket.destroy();
    }, this.options.gracePeriod ?? 30_000);
    grace.unref();
    const done = (): void => {
      clearTimeout(grace);
      if (this.unixPath && existsSync(this.unixPath)) {
        try {
          unlinkSync(this.unixPath);
        } catch {
          // already gone
        }
      }
      this.emit('close');
    };
    // A connection accepted but not yet used (a web server's request on its way, or a process manager's
    // listen queue handed to us) is served once; refusing it would lose a request no one else can take.
    for (const c of this.connections) if (c.protocol.openRequests === 0 && this.used.has(c)) c.socket.end();
    if (this.connections.size === 0) setImmediate(done);
    else this.once('drained', done);
    return this;
  }

  private accept(socket: Socket): void {
    if (this.allowed && socket.remoteAddress && !this.allowed.has(normalizeAddress(socket.remoteAddress))) {
      this.log(`fcgi-wasm: refused a connection from ${socket.remoteAddress} (not in FCGI_WEB_SERVER_ADDRS)`);
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.connectionOptions.maxConnections) this.evictIdle();
    this.connections.add(new SocketConnection(socket, this.connectionEvents, this.connectionOptions));
    if (this.sweep === null && this.handshakeTimeout > 0) {
      this.sweep = setInterval(() => this.closeStalled(), Math.min(1000, Math.max(10, this.handshakeTimeout / 4)));
      this.sweep.unref();
    }
    this.emit('connection', socket);
  }

  private get handshakeTimeout(): number {
    return this.options.handshakeTimeout ?? 10_000;
  }

  /**
   * All connections are open: the one idle longest is closed to make room. Idle: no request started on
   * it (a request whose head is still incomplete has run nothing, and a peer that keeps heads
   * incomplete must not hold its place: the slow-loris attack).
   */
  private evictIdle(): void {
    let oldest: SocketConnection | null = null;
    for (const c of this.connections) if (c.protocol.startedRequests === 0 && (oldest === null || c.idleSince < oldest.idleSince)) oldest = c;
    if (oldest === null) return; // all are busy: the new connection's requests get OVERLOADED
    this.connections.delete(oldest); // counted out now: its 'close' comes later
    oldest.socket.destroy();
  }

  /** Closes the connections whose peer has stalled on a request head for longer than handshakeTimeout. */
  private closeStalled(): void {
    const now = Date.now();
    let closed = 0;
    for (const c of this.connections) {
      if (!c.headStalled(now, this.handshakeTimeout)) continue;
      closed++;
      c.socket.destroy();
    }
    // one line per sweep, not per connection: a flood of stalled connections must not flood the log too
    if (closed > 0) this.log(`fcgi-wasm: HANDSHAKE_TIMEOUT: closed ${closed} connection(s) that sent no complete request head within ${this.handshakeTimeout} ms`);
  }

  private afterRequests(conn: SocketConnection): void {
    const limit = this.options.exitAfterRequests;
    if (limit !== undefined && limit > 0 && this.requestsServed >= limit && !this.closing) {
      this.log(`fcgi-wasm: served ${this.requestsServed} requests (exitAfterRequests); exiting after the requests in flight`);
      this.close(() => process.exit(0));
    }
    if (this.watched && mtimeOf(this.watched.file) !== this.watched.mtime) {
      this.log(`fcgi-wasm: ${this.watched.file} changed; exiting after the requests in flight`);
      this.watched = null;
      this.close(() => process.exit(0));
    }
    if (this.closing && conn.protocol.openRequests === 0) conn.socket.end();
  }

  private installSignals(): void {
    const stop = (signal: string): void => {
      this.log(`fcgi-wasm: ${signal}: finishing ${[...this.connections].reduce((n, c) => n + c.protocol.openRequests, 0)} request(s), then exiting`);
      this.close(() => process.exit(0));
    };
    for (const signal of ['SIGTERM', 'SIGUSR1', 'SIGINT'] as const) process.once(signal, () => stop(signal));
    // A web server that hung up must never kill us (Node ignores SIGPIPE already; make it explicit).
    process.on('SIGPIPE', () => {});
  }
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

function stdinIsSocket(): boolean {
  try {
    return fstatSync(0).isSocket() && !process.env.GATEWAY_INTERFACE;
  } catch {
    return false;
  }
}

/** 127.0.0.1 and ::ffff:127.0.0.1 are the same peer. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  return address.toLowerCase();
}

/**
 * A node:http-style FastCGI server: `createServer((req, res) => ...)`. As with node's http.Server, the
 * handler is a 'request' listener; `server.on('request', ...)` works too.
 */
export function createServer(handler?: NodeHandler): FcgiServer;
export function createServer(options: ServerOptions, handler?: NodeHandler): FcgiServer;
export function createServer(a?: ServerOptions | NodeHandler, b?: NodeHandler): FcgiServer {
  const [options, handler] = typeof a === 'function' ? [{}, a] : [a ?? {}, b];
  const server: FcgiServer = new FcgiServer((channel, info) => startNodeRequest(channel, info, (req, res) => server.emit('request', req, res)), options);
  if (handler) server.on('request', handler);
  return server;
}

export interface ServeOptions extends ServerOptions {
  /** Where to listen; default: fd 0 if it is a socket, else run once as CGI. */
  listen?: ListenTarget;
}

/** A fetch-style FastCGI server, listening at once: `serve((request, info) => new Response('hi'))`. */
export function serve(handler: FetchHandler, options: ServeOptions = {}): FcgiServer {
  const server = new FcgiServer((channel, info) => startFetchRequest(channel, info, handler), { handleSignals: true, ...options });
  return server.listen(options.listen);
}
