// Client: talk to php-fpm or any FastCGI app. `request()` streams both ways at the FastCGI level;
// `call()` collects a whole reply; `fetch()` speaks Request/Response with CGI/1.1 params and parses the
// CGI response (Status, Location, local redirects).

import { EventEmitter } from 'node:events';
import { Pool, type PoolOptions, type PooledConnection } from './pool.js';
import { Flow, Replaying, RequestRun, Retry, RetryError } from './request-run.js';
import { FastCGIError } from '../codec/errors.js';
import { concatBytes } from '../codec/bytes.js';
import { latin1 } from '../codec/pairs.js';
import { Role } from '../codec/constants.js';
import type { Pairs } from '../codec/encoder.js';
import { CgiResponseParser, type CgiHead } from '../protocol/cgi-response.js';
import { cgiParamsFor, type CgiParamsOptions } from './cgi-params.js';
import { STDERR_KEPT, StreamedReply } from './streamed-reply.js';

export type Body = Uint8Array | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export interface ClientOptions extends PoolOptions {
  /**
   * Time limits in ms (0 = none): until the first reply byte (counted once the request, its body
   * included, is sent), between reply bytes, for the whole request. firstByte and idle default to
   * nginx's fastcgi_read_timeout, 60 s; total to none. Each one given replaces only its own default.
   */
  timeouts?: { firstByte?: number; idle?: number; total?: number };
  /** Most stdout bytes call() collects (REPLY_TOO_LARGE beyond; request() and fetch() stream instead). Default 64 MiB. */
  maxCollectedReply?: number;
}

export interface RequestOptions {
  params: Pairs;
  body?: Body;
  /** Filter role: the file to filter (FCGI_DATA). */
  data?: Body;
  role?: number;
  signal?: AbortSignal;
}

export interface FcgiReply {
  requestId: number;
  /** The raw CGI response (headers included), as it arrives. */
  stdout: ReadableStream<Uint8Array>;
  /**
   * The CGI head (status, headers, redirect), once its empty line has arrived; rejects with
   * INCOMPLETE_HEADERS if stdout ended first, or with the request's failure. stdout still carries it.
   */
  head: Promise<CgiHead>;
  /**
   * What the app wrote to FCGI_STDERR, as it arrives. Never paused: while its reader is 64 KiB behind
   * (or it is not read), more stderr is dropped and counted in `done`'s stderrDropped.
   */
  stderr: ReadableStream<Uint8Array>;
  /** END_REQUEST: resolves with the app status; rejects on failure, or a protocol status other than REQUEST_COMPLETE. */
  done: Promise<{ appStatus: number; stderrDropped: number }>;
}

export interface CollectedReply {
  stdout: Uint8Array;
  /** The first 64 KiB of what the app wrote to FCGI_STDERR (all of it reaches the 'stderr' event). */
  stderr: Uint8Array;
  /** stderr bytes beyond the first 64 KiB, not kept. */
  stderrDropped: number;
  appStatus: number;
}

export interface FetchOptions extends CgiParamsOptions {
  /** More params, added last (they win). */
  params?: Record<string, string>;
  signal?: AbortSignal;
  /** A body without Content-Length is buffered to learn its length: at most this many bytes (BODY_TOO_LARGE). Default 64 MiB. */
  maxBufferedBody?: number;
}

/**
 * What a Client emits: 'stderr' for every FCGI_STDERR chunk of every request, whatever API sent it. The
 * chunk is a view of the bytes received: it stays valid, but shares its buffer with the rest of what
 * arrived with it, so copy (slice) a piece you keep for long.
 */
export interface ClientEvents {
  stderr: [chunk: Uint8Array, params: Pairs];
}

export class Client extends EventEmitter<ClientEvents> {
  readonly options: ClientOptions;
  /** options.timeouts over the defaults. */
  private readonly timeouts: Timeouts;
  private readonly pool: Pool;

  constructor(options: ClientOptions) {
    super();
    this.options = options;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.pool = new Pool(options);
  }

  /** Connections open now. */
  get connections(): number {
    return this.pool.size;
  }

  /**
   * How often call() and fetch() send a request again that a kept connection lost before any reply
   * (php-fpm closes connections after pm.max_requests; under load several kept connections can be
   * lost in a row, as nginx also finds: it does not count a lost cached connection as a try). Each
   * loss removes a kept connection, so the pool's size bounds it.
   */
  private get replays(): number {
    return (this.options.maxConnections ?? 16) + 1;
  }

  /** Starts a request; the reply streams in (never replayed: the caller may have read the reply). */
  async request(options: RequestOptions): Promise<FcgiReply> {
    const reply = await this.open(options, false);
    return reply;
  }

  private async open(options: RequestOptions, canRetry: boolean): Promise<FcgiReply> {
    const reply = new StreamedReply();
    const requestId = await this.begin(options, canRetry, reply);
    return { requestId, stdout: reply.stdoutStream, stderr: reply.stderrStream, head: reply.head, done: reply.done };
  }

  /**
   * The lowest level: starts a request whose reply goes to `sink` callbacks as it arrives (no streams,
   * no buffering). Resolves with the request id once it has begun. `pause`/`resume` in the sink's
   * `started` hold the app's connection while the consumer cannot take more (it also holds the other
   * requests of a multiplexed connection); `cancel` gives the request up. A request with no body or
   * one in hand that a kept connection lost before any reply is sent again, as call() does (the sink
   * has seen nothing of it; `started` is called again with the new connection's controls).
   */
  exchange(options: RequestOptions, sink: ReplySink, replays = this.replays): Promise<number> {
    return this.begin(options, replays > 0, new Replaying(this, options, sink, replays));
  }

  private async begin(options: RequestOptions, canRetry: boolean, sink: ReplySink): Promise<number> {
    const signal = options.signal;
    signal?.throwIfAborted();
    // an idle kept connection starts the request now, in this tick (no await: the request leaves with
    // the caller's other writes); otherwise wait for one, for no longer than the total timeout and
    // until the caller aborts
    let conn = this.pool.idle();
    let waited = 0;
    if (conn === null) {
      const total = this.timeouts.total;
      const since = Date.now();
      const wait = { signal, within: total, timeout: () => new FastCGIError('TIMEOUT_TOTAL', `the FastCGI request took longer than ${total} ms (waiting for a connection)`) };
      conn = await this.pool.acquire(wait);
      while (conn.closed) conn = await this.pool.acquire(wait); // it closed between the pool's answer and now
      waited = Date.now() - since;
      // the caller may have gone meanwhile (an abort in this very tick, a gateway's HTTP client hanging up)
      if (signal?.aborted || sink.gone?.()) {
        this.pool.unreserve(conn);
        signal?.throwIfAborted();
        throw new FastCGIError('CANCELLED', 'nobody wants the reply any more');
      }
    }
    // Sent again only with its body in hand. A request the app refused unrun (CANT_MPX_CONN) may always
    // be; one lost with its connection only if nothing of it can have run twice: a method that may be
    // repeated (RFC 9110 9.2.2; nginx does not retry POST, PATCH or LOCK either).
    const resendable = canRetry && inHand(options.body) && (options.role !== Role.FILTER || inHand(options.data));
    const retry = resendable ? (idempotent(options.params) ? Retry.LOST_OR_REFUSED : Retry.REFUSED) : Retry.NEVER;
    const run = this.start(conn, options, retry, sink, waited);
    sink.started?.(new Flow(conn, run));
    return run.requestId;
  }

  /**
   * A whole reply: stdout (at most maxCollectedReply bytes), the first 64 KiB of stderr and the app
   * status (collected without streams: the fast path).
   */
  async call(options: RequestOptions): Promise<CollectedReply> {
    const maxStdout = this.options.maxCollectedReply ?? 64 << 20;
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<CollectedReply>((resolve, reject) => {
          const out: Uint8Array[] = [];
          const err: Uint8Array[] = [];
          let outBytes = 0;
          let errBytes = 0;
          let flow: ReplyFlow | null = null;
          this.begin(options, attempt < this.replays, {
            started: (f) => void (flow = f),
            stdout: (c) => {
              outBytes += c.length;
              if (outBytes <= maxStdout) return void out.push(c);
              reject(new FastCGIError('REPLY_TOO_LARGE', `the app's reply passed ${maxStdout} bytes (maxCollectedReply); request() streams it instead`));
              flow?.cancel();
            },
            stderr: (c) => {
              const room = STDERR_KEPT - errBytes;
              errBytes += c.length;
              if (room > 0) err.push(c.slice(0, room)); // its own bytes: a view would hold the whole chunk it came in
            },
            end: (appStatus) => resolve({ stdout: concatAll(out), stderr: concatAll(err), stderrDropped: Math.max(0, errBytes - STDERR_KEPT), appStatus }),
            fail: reject,
          }).catch(reject);
        });
      } catch (e) {
        if (e instanceof RetryError && attempt < this.replays) continue;
        throw e instanceof RetryError ? e.cause : e;
      }
    }
  }

  /**
   * A Request answered by the app as a Response: CGI/1.1 params from the request (RFC 3875), the
   * CGI response parsed. Local redirects (a bare `Location: /path`) are followed, at most 10.
   */
  async fetch(input: Request | string | URL, options: FetchOptions): Promise<Response> {
    let request = input instanceof Request ? input : new Request(input);
    let replayed = 0;
    let replayable = true;
    for (let hops = 0; ; hops++) {
      // With a Content-Length the body streams through (and must be exactly that long); without one it
      // is buffered, up to maxBufferedBody, so that CONTENT_LENGTH is the bytes sent. A buffered body
      // can be sent again when a kept connection was lost.
      const declared = request.headers.get('content-length');
      let body: Body | undefined;
      let length = 0;
      if (request.body === null) body = undefined;
      else if (declared !== null && /^\d+$/.test(declared)) {
        length = Number(declared);
        body = exactly(request.body, length);
        replayable = false;
      } else {
        const bytes = await bufferBody(request.body, options.maxBufferedBody ?? 64 << 20);
        body = bytes;
        length = bytes.length;
      }
      const params = { ...cgiParamsFor(request, length, options), ...options.params };
      const canReplay = replayable && replayed < this.replays;
      const reply = await this.open({ params, body, signal: options.signal ?? request.signal }, canReplay);
      void reply.stderr.cancel(); // a Response has no stderr: it reaches the 'stderr' event only, and nothing keeps it
      const started = await this.readHead(reply).catch((e: unknown) => {
        if (e instanceof RetryError && canReplay) return null;
        throw e instanceof RetryError ? e.cause : e;
      });
      if (started === null) {
        replayed++;
        hops--;
        request = new Request(request.url, { method: request.method, headers: request.headers, body: body as Uint8Array<ArrayBuffer> | undefined, signal: request.signal });
        continue;
      }
      const { first, reader, done } = started;
      const head = first.head!;
      if (head.localRedirect && hops < 10) {
        discard(reader); // read to its end, not cancelled: the request finishes and its connection stays
        request = new Request(new URL(head.location!, request.url), { method: 'GET', headers: withoutBodyHeaders(request.headers), signal: request.signal });
        continue;
      }
      const rest = first.body;
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          if (rest.length > 0) c.enqueue(rest);
        },
        async pull(c) {
          const { value, done: ended } = await reader.read();
          if (ended) {
            const failure = await done;
            if (failure instanceof Error) c.error(failure);
            else c.close();
          } else c.enqueue(value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
      const headers = new Headers();
      for (const [name, value] of head.headers) headers.append(name, value);
      const nullBody = head.status === 204 || head.status === 304 || request.method === 'HEAD';
      if (nullBody) discard(reader);
      return new Response(nullBody ? null : stream, { status: head.status, statusText: head.statusText, headers });
    }
  }

  /** Reads the CGI head of a reply; the reader then holds the rest of the body. */
  private async readHead(reply: FcgiReply) {
    const parser = new CgiResponseParser();
    const reader = reply.stdout.getReader();
    const done = reply.done.catch((e: unknown) => e as Error);
    try {
      for (;;) {
        const { value, done: ended } = await reader.read().catch(async (e: unknown) => {
          throw (await done) ?? e;
        });
        if (ended) {
          const failure = await done;
          if (failure instanceof Error) throw failure;
          parser.end(); // throws INCOMPLETE_HEADERS
        } else {
          const first = parser.push(value);
          if (first) return { first, reader, done };
        }
      }
    } catch (e) {
      void reader.cancel().catch(() => {}); // a bad head: the rest of the reply is not wanted
      throw e;
    }
  }

  /** Authorizer role: allowed when the app answers 200; its `Variable-*` headers come back as variables. */
  async authorize(options: Omit<RequestOptions, 'role' | 'body' | 'data'>): Promise<{ allowed: boolean; status: number; variables: Record<string, string>; headers: [string, string][]; body: Uint8Array }> {
    const reply = await this.call({ ...options, role: Role.AUTHORIZER });
    const parser = new CgiResponseParser();
    const r = parser.push(reply.stdout);
    if (!r) parser.end();
    const head = r!.head!;
    const variables: Record<string, string> = {};
    for (const [name, value] of head.headers) if (/^variable-/i.test(name)) variables[name.slice(9)] = value;
    return { allowed: head.status === 200, status: head.status, variables, headers: head.headers, body: r!.body };
  }

  /**
   * Filter role: `data` is the file to filter. FCGI_DATA_LENGTH is added to the params when `data` is in
   * hand and they lack it (the spec has the web server send it; FCGI_DATA_LAST_MOD is the caller's to give).
   */
  filter(options: Omit<RequestOptions, 'role'> & { data: Body }): Promise<CollectedReply> {
    const data = options.data;
    const length = typeof data === 'string' ? utf8.encode(data).length : data instanceof Uint8Array ? data.length : undefined;
    const params = length === undefined || paramValue(options.params, 'FCGI_DATA_LENGTH') !== undefined ? options.params : withParam(options.params, 'FCGI_DATA_LENGTH', String(length));
    return this.call({ ...options, params, role: Role.FILTER });
  }

  close(): void {
    this.pool.close();
  }

  /** Starts a request on `conn`; its reply goes to `sink`. */
  private start(conn: PooledConnection, options: RequestOptions, retry: Retry, sink: ReplySink, waited: number): RequestRun {
    const run = new RequestRun(conn, options, this.timeouts, retry, sink, this);
    // BEGIN, PARAMS and a body already in hand (with its STDIN end) leave in one write, as nginx does:
    // fcgi2 answers a GET before reading STDIN, and a STDIN end arriving after its answer is read as a
    // stray record that makes it drop the kept connection. A streamed body (or a filter's DATA) follows.
    const body = options.body;
    const leavesWhole = options.role !== Role.FILTER && inHand(body);
    const keepConn = this.options.keepAlive !== false;
    const id = conn.begin(run, (c) => c.begin(options.params, { role: options.role, keepConn }, leavesWhole ? bodyBytes(body) : undefined));
    run.started(id, waited);
    if (leavesWhole) run.sent();
    else
      this.send(conn, run, options).then(
        () => run.sent(),
        (e: unknown) => run.giveUp(e instanceof Error ? e : new Error(String(e))),
      );
    return run;
  }

  /** Streams the body (then DATA for filters) with backpressure; always ends STDIN, unless the request was given up. */
  private async send(conn: PooledConnection, run: RequestRun, options: RequestOptions): Promise<void> {
    const id = run.requestId;
    await stream(conn, run, options.body, (chunk, end) => conn.conn.stdin(id, chunk, end));
    if (options.role === Role.FILTER) await stream(conn, run, options.data, (chunk, end) => conn.conn.data(id, chunk, end));
  }
}

/** Where a request's reply goes. */
export interface ReplySink {
  stdout(chunk: Uint8Array): void;
  stderr(chunk: Uint8Array): void;
  /** END_REQUEST with REQUEST_COMPLETE. */
  end(appStatus: number): void;
  /** A typed error: the connection failed, a timeout, an abort, or another protocol status. */
  fail(error: unknown): void;
  /** The request has begun: flow control for a consumer that cannot keep up, and a way to drop it. */
  started?(flow: ReplyFlow): void;
  /** Asked before a request that waited for a connection is sent: true if nobody wants its reply any more. */
  gone?(): boolean;
}

/** What a ReplySink gets to pace its request's reply (pause/resume the app's connection) or drop it. */
export interface ReplyFlow {
  pause(): void;
  resume(): void;
  cancel(): void;
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0]! : concatBytes(parts);
}

const utf8 = new TextEncoder();
type Timeouts = NonNullable<ClientOptions['timeouts']>;
/** nginx's fastcgi_read_timeout: 60 s to the first reply byte and between reply bytes. */
const DEFAULT_TIMEOUTS: Timeouts = { firstByte: 60_000, idle: 60_000 };
const EMPTY = new Uint8Array(0);

/** Whether a body is all in hand (none, a string or bytes): it can be sent again. */
function inHand(body: Body | undefined): body is Uint8Array | string | undefined {
  return body === undefined || typeof body === 'string' || body instanceof Uint8Array;
}

/** Reads a reply's rest and drops it: the request ends normally and its connection can be kept. */
function discard(reader: ReadableStreamDefaultReader<Uint8Array>): void {
  void (async () => {
    for (;;) if ((await reader.read()).done) return;
  })().catch(() => {});
}

/** A body given as bytes or a string, as bytes (none: empty). */
function bodyBytes(body: Uint8Array | string | undefined): Uint8Array {
  return body === undefined ? EMPTY : typeof body === 'string' ? utf8.encode(body) : body;
}

/**
 * Writes a body with backpressure. Once the request is given up (or its connection closed) it stops:
 * a ReadableStream source is cancelled even while it waits for its next chunk, an async iterable is
 * let go at its next chunk, and a wait for 'drain' ends. An app that takes no body bytes for the idle
 * timeout fails the request with TIMEOUT_IDLE (nginx's fastcgi_send_timeout).
 */
async function stream(conn: PooledConnection, run: RequestRun, body: Body | undefined, write: (chunk: Uint8Array, end: boolean) => void): Promise<void> {
  if (inHand(body)) return write(bodyBytes(body), true);
  const socket = conn.socket;
  const reader = body instanceof ReadableStream ? (body as ReadableStream<Uint8Array>).getReader() : null;
  const iterator = reader ? null : (body as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
  let wake: (() => void) | null = null;
  run.onFinish = () => {
    void reader?.cancel().catch(() => {});
    wake?.();
  };
  try {
    for (;;) {
      const next = reader ? await reader.read() : await iterator!.next();
      if (next.done || conn.closed || run.isFinished) break;
      const chunk = next.value;
      write(typeof chunk === 'string' ? utf8.encode(chunk) : chunk, false);
      if (socket.writableNeedDrain) await drained(socket, run, (w) => (wake = w));
      wake = null;
    }
  } finally {
    if (reader) reader.releaseLock();
    // a generator is let go (its finally runs); a Node Readable is only left unread, not destroyed: it
    // may be the HTTP request the gateway still has to answer (node:http discards the rest)
    else if ((conn.closed || run.isFinished) && typeof (body as { pause?: unknown }).pause !== 'function') await iterator!.return?.();
  }
  if (!conn.closed && !run.isFinished) write(EMPTY, true);
}

/** Until the socket drains or closes, the request finishes, or the app takes nothing for the idle timeout. */
function drained(socket: PooledConnection['socket'], run: RequestRun, setWake: (wake: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const limit = run.sendTimeout;
    const timer = limit ? setTimeout(() => run.giveUp(new FastCGIError('TIMEOUT_IDLE', `the FastCGI app took none of the request body for ${limit} ms`)), limit) : null;
    const go = (): void => {
      if (timer) clearTimeout(timer);
      socket.off('drain', go).off('close', go);
      resolve();
    };
    socket.on('drain', go).on('close', go);
    setWake(go);
  });
}

/** A local redirect is a GET without a body: the original body's headers do not go with it. */
function withoutBodyHeaders(headers: Headers): Headers {
  const copy = new Headers(headers);
  for (const name of ['content-type', 'content-length', 'transfer-encoding', 'content-encoding']) copy.delete(name);
  return copy;
}

/** The value of param `name` (the last one given; names and values given as bytes read as Latin-1), or undefined. */
function paramValue(params: Pairs, name: string): unknown {
  if (!(Symbol.iterator in params)) return (params as Record<string, unknown>)[name];
  let value: unknown;
  for (const [n, v] of params as Iterable<readonly [unknown, unknown]>) {
    if ((n instanceof Uint8Array ? latin1(n, 0, n.length) : n) === name) value = v instanceof Uint8Array ? latin1(v, 0, v.length) : v;
  }
  return value;
}
/** The params with one more pair, in the shape they came in. */
function withParam(params: Pairs, name: string, value: string): Pairs {
  if (!(Symbol.iterator in params)) return { ...(params as Record<string, string>), [name]: value };
  return [...(params as Iterable<readonly [string, string]>), [name, value] as const];
}

/** Whether a request may be sent again: its REQUEST_METHOD is idempotent (RFC 9110 9.2.2), or it has none. */
function idempotent(params: Pairs): boolean {
  const method = paramValue(params, 'REQUEST_METHOD');
  if (method === undefined) return true;
  return typeof method === 'string' && IDEMPOTENT.has(method.toUpperCase());
}
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The body, checked to be exactly `length` bytes (CONTENT_LENGTH must be the bytes actually sent). */
async function* exactly(body: ReadableStream<Uint8Array>, length: number): AsyncGenerator<Uint8Array> {
  let sent = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    sent += chunk.length;
    if (sent > length) throw new FastCGIError('CONTENT_LENGTH_MISMATCH', `the request body is longer than its Content-Length ${length}`);
    yield chunk;
  }
  if (sent !== length) throw new FastCGIError('CONTENT_LENGTH_MISMATCH', `the request body ended after ${sent} of its Content-Length ${length} bytes`);
}

/** A body without Content-Length, read whole (BODY_TOO_LARGE past `limit`) so its length is known. */
export async function bufferBody(body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>, limit: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > limit) throw new FastCGIError('BODY_TOO_LARGE', `a request body without Content-Length is buffered, and this one passed ${limit} bytes`);
    parts.push(chunk);
  }
  return concatBytes(parts, size);
}


