// The HTTP gateway: what nginx's fastcgi_pass does, as a node:http request handler (usable as Express /
// Connect middleware). Static files come from the document root (document-root.ts); scripts (*.php by
// default) go to the FastCGI backends, balanced over the healthy ones with failover; backend failures
// become 502 and timeouts 504, each with the typed error in the log. A request body is read whole
// before a backend is contacted (request-body.ts), as nginx does by default, unless requestBuffering
// is off.
//
// Security, as the classic nginx + php-fpm mistakes taught: the script must be an existing file inside
// the document root after decoding and normalising the path (no '..', no encoded traversal, no NUL);
// a non-script file is never handed to the backend through a trailing path ('/uploads/a.jpg/x.php');
// no HTTP_PROXY from a 'Proxy' header (httpoxy); CONTENT_LENGTH is the bytes actually sent; header
// lines from the backend with CR or invalid names are refused; dot files and symbolic links that leave
// the root are refused (document-root.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { Client, type Body, type ClientOptions, type ReplyFlow, type ReplySink } from './client.js';
import { cgiParams, safePath, type UrlParts } from './cgi-params.js';
import { DocumentRoot, type DocumentRootOptions } from './document-root.js';
import { serveFile } from './static-files.js';
import { readBody, tooLarge } from './request-body.js';
import { reachable } from './connect.js';
import { CgiResponseParser, type CgiHead } from '../protocol/cgi-response.js';
import { concatBytes } from '../codec/bytes.js';
import { FastCGIError } from '../codec/errors.js';

export interface GatewayOptions {
  /** FastCGI app address(es): 'host:port' or a Unix socket path. */
  backends: string | string[];
  /** Files are served from here, scripts resolved inside it. */
  documentRoot: string;
  /** Tried for a path ending in '/' (default 'index.php'). */
  index?: string;
  /** What is a script (default /\.php$/). */
  scriptPattern?: RegExp;
  /** Missing files go to this script, as `try_files $uri /index.php` (e.g. '/index.php'). */
  frontController?: string;
  /** Serve non-script files from the document root (default true). */
  staticFiles?: boolean;
  /** URL prefixes served from other directories, as nginx's `alias`: { '/wp-content': '/var/lib/wordpress/wp-content' }. */
  aliases?: Record<string, string>;
  /** Dot files and directories: 'deny' (default: 403, but /.well-known/) or 'allow'. */
  dotfiles?: DocumentRootOptions['dotfiles'];
  /** Symbolic links: 'inside' (default: followed only to a target inside the root, else 403) or 'follow'. */
  symlinks?: DocumentRootOptions['symlinks'];
  /** Send every request to the backend (an application server rather than a PHP docroot). */
  passAll?: boolean;
  /** Options for each backend's Client (pool size, timeouts: nginx's 60 s by default, each one given replacing only its own). */
  client?: Omit<ClientOptions, 'address'>;
  /**
   * How often a backend marked down (it refused or timed out a connection) is checked, ms: a connection
   * is opened to it, and once one opens it takes requests again. Live requests are not used as probes.
   * Default 5000.
   */
  healthCheckInterval?: number;
  /** Where errors are logged (default console.error). */
  log?: (message: string) => void;
  /** How long a file lookup is remembered, ms, as nginx's open_file_cache (default 1000; 0 = never). */
  fileCacheTime?: number;
  /**
   * Read each request body whole before contacting a backend, as nginx does by default, so that a slow
   * upload never holds a backend worker (default true). false streams bodies with a Content-Length
   * through as they come (nginx's fastcgi_request_buffering off); a function decides per request. A
   * body without Content-Length (chunked) is always read whole: CONTENT_LENGTH must be its length.
   */
  requestBuffering?: boolean | ((req: IncomingMessage) => boolean);
  /** Most bytes in a request body; more is answered 413. Default 8 MiB (PHP's own post_max_size). */
  maxBodySize?: number;
  /** Bytes of a body being read whole kept in memory; the rest goes to a temp file. Default 64 KiB. */
  bodyInMemory?: number;
  /** Most ms between two reads of a body being read whole; longer is answered 408. Default 60000, as nginx's client_body_timeout. */
  bodyTimeout?: number;
  /** Where bodies past bodyInMemory are written (each file unlinked as soon as it is open). Default the OS temp dir. */
  tempDir?: string;
}

export type GatewayHandler = ((req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void) & { close(): void };

interface Backend {
  address: string;
  client: Client;
  down: boolean;
  /** The health check of a backend marked down: its next timer, and whether its loop runs. */
  check: ReturnType<typeof setTimeout> | null;
  checking: boolean;
}

/** Maps a failure to the status a web server answers with. */
export function statusForError(err: unknown): number {
  const code = err instanceof FastCGIError ? err.code : '';
  if (code.startsWith('TIMEOUT') || code === 'CONNECT_TIMEOUT') return 504;
  if (code === 'OVERLOADED' || code === 'CANT_MPX_CONN') return 503;
  if (code === 'BAD_PATH') return 400;
  if (code === 'BODY_TOO_LARGE') return 413;
  if (code === 'BODY_TIMEOUT') return 408;
  return 502;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 413: 'Payload Too Large', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

export function createGateway(options: GatewayOptions): GatewayHandler {
  const docroot = new DocumentRoot({ ...options, root: options.documentRoot });
  const root = docroot.root;
  const log = options.log ?? ((m) => console.error(m));
  const backends: Backend[] = (Array.isArray(options.backends) ? options.backends : [options.backends]).map((address) => ({
    address,
    client: new Client({ ...options.client, address }),
    down: false,
    check: null,
    checking: false,
  }));
  let next = 0;
  let closed = false;
  const maxBodySize = options.maxBodySize ?? 8 << 20;
  const bodyLimits = { maxSize: maxBodySize, inMemory: options.bodyInMemory ?? 64 * 1024, timeout: options.bodyTimeout ?? 60_000, tempDir: options.tempDir ?? tmpdir() };

  /** Healthy backends in round-robin order (all of them, if none is: try anyway rather than refuse). */
  function candidates(): Backend[] {
    if (backends.length === 1) return backends; // tried even when marked down: there is no other
    const order = backends.map((_, i) => backends[(next + i) % backends.length]!);
    next = (next + 1) % backends.length;
    const up = order.filter((b) => !b.down);
    return up.length > 0 ? up : order;
  }

  /** Takes a backend out of rotation until a connection to it opens again (checked every healthCheckInterval). */
  function markDown(backend: Backend, err: Error): void {
    if (backend.down || closed) return;
    backend.down = true;
    log(`fcgi-wasm gateway: backend ${backend.address} is down: ${err.message}`);
    if (!backend.checking) check(backend); // one check loop per backend, even when it flaps
  }
  function check(backend: Backend): void {
    backend.checking = true;
    const every = options.healthCheckInterval ?? 5000;
    backend.check = setTimeout(async () => {
      backend.check = null;
      const up = !backend.down || (await reachable(backend.address, Math.min(every, options.client?.connectTimeout ?? 5000)));
      if (closed) return void (backend.checking = false);
      if (up && backend.down) log(`fcgi-wasm gateway: backend ${backend.address} is up again`);
      if (up) backend.down = false; // (or a request got through meanwhile)
      if (backend.down) check(backend);
      else backend.checking = false;
    }, every);
    backend.check.unref?.();
  }

  /** What a path names: a script (or every path, with passAll), a file, a redirect, 403, or nothing. */
  function resolve(path: string) {
    return options.passAll ? Promise.resolve({ kind: 'script' as const, script: '', pathInfo: path, filename: root }) : docroot.resolve(path);
  }

  /**
   * The request's body for the backend: none, read whole (in memory or a temp file: its length is then
   * exact), or req itself streaming through (a Content-Length body with requestBuffering off; node's
   * parser holds it to that length).
   */
  async function requestBody(req: IncomingMessage): Promise<{ body: Body | undefined; length: number; declared: boolean; release(): void }> {
    const declared = rawHeader(req.rawHeaders, 'content-length');
    const chunked = declared === undefined && rawHeader(req.rawHeaders, 'transfer-encoding') !== undefined;
    if (declared !== undefined && Number(declared) > maxBodySize) throw tooLarge(maxBodySize);
    const none = { body: undefined, length: 0, declared: declared !== undefined, release() {} };
    if (!chunked && (declared === undefined || declared === '0')) return none;
    const buffering = typeof options.requestBuffering === 'function' ? options.requestBuffering(req) : options.requestBuffering !== false;
    if (!chunked && !buffering) return { ...none, body: req, length: Number(declared) };
    return { ...(await readBody(req, bodyLimits)), declared: true };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, nextFn?: (err?: unknown) => void): Promise<void> {
    const url = requestUrl(req);
    const target = await resolve(safePath(url.pathname));
    if (target === null) return nextFn ? nextFn() : plain(res, 404, 'Not Found\n'); // as middleware, what is not ours goes on
    if (target.kind === 'forbidden') return plain(res, 403, 'Forbidden\n');
    if (target.kind === 'redirect') return moved(res, target.location + url.search);
    if (target.kind === 'file') return serveFile(req, res, target);
    const held = await requestBody(req);
    try {
      await dispatch(req, res, url, target, held);
    } finally {
      held.release();
    }
  }

  /** Sends a script request to a backend, and follows its local redirects (RFC 3875 6.2.2), at most 10. */
  async function dispatch(req: IncomingMessage, res: ServerResponse, url: UrlParts, target: { script: string; pathInfo: string; filename: string }, held: { body: Body | undefined; length: number; declared: boolean }): Promise<void> {
    const { body, length } = held;
    let method = req.method ?? 'GET';
    let current: UrlParts = url;
    let script = target;
    for (let hops = 0; ; hops++) {
      const params = cgiParams({ url: current, method, rawHeaders: req.rawHeaders, hasBody: body !== undefined || held.declared }, hops === 0 ? length : 0, {
        documentRoot: root,
        scriptFilename: script.filename,
        script: { name: script.script, pathInfo: script.pathInfo },
        remoteAddress: req.socket.remoteAddress,
        remotePort: req.socket.remotePort,
        serverAddress: req.socket.localAddress,
        serverSoftware: 'fcgi-wasm-gateway',
      });
      const redirect = await forward(params, hops === 0 ? body : undefined, res, method === 'HEAD');
      if (redirect === null) return;
      // a local redirect (RFC 3875 6.2.2): the new path is served as a GET, at most 10 times
      if (hops >= 10) throw new FastCGIError('REDIRECT_LOOP', 'more than 10 local redirects');
      current = new URL(redirect, `${current.protocol}//${current.hostname}${current.port ? `:${current.port}` : ''}${current.pathname}`);
      method = 'GET';
      const next = await resolve(safePath(current.pathname));
      if (next === null) return plain(res, 404, 'Not Found\n');
      if (next.kind === 'forbidden') return plain(res, 403, 'Forbidden\n');
      if (next.kind === 'file') return serveFile(req, res, next, true);
      if (next.kind === 'redirect') return moved(res, next.location + current.search);
      script = next;
    }
  }

  /** One exchange with a backend (failover on connect errors); the reply is written to res. Returns a local redirect's path, or null. */
  async function forward(params: Record<string, string>, body: Body | undefined, res: ServerResponse, head: boolean): Promise<string | null> {
    let lastError: unknown;
    for (const backend of candidates()) {
      try {
        const result = await exchange(backend.client, params, body, res, head, log);
        backend.down = false;
        return result;
      } catch (err) {
        lastError = err;
        const code = err instanceof FastCGIError ? err.code : '';
        if ((code === 'CONNECT_FAILED' || code === 'CONNECT_TIMEOUT') && !res.headersSent) {
          // failover: the request never reached this backend (its body was not read), another may take it
          markDown(backend, err as Error);
          continue;
        }
        break;
      }
    }
    throw lastError;
  }

  const handler = ((req, res, nextFn) => {
    handle(req, res, nextFn).catch((err: unknown) => {
      if (res.headersSent) {
        // the status has gone: the client sees the reply cut short, the log says why
        log(`fcgi-wasm gateway: ${req.method} ${req.url} -> cut after the head: ${explain(err)}`);
        res.destroy(err instanceof Error ? err : undefined);
        return;
      }
      const status = statusForError(err);
      log(`fcgi-wasm gateway: ${req.method} ${req.url} -> ${status}: ${explain(err)}`);
      // a body refused or cut short by a timeout was not read to its end: the connection cannot carry another request
      if (status === 408 || status === 413) res.shouldKeepAlive = false;
      plain(res, status, `${STATUS_TEXT[status] ?? 'Bad Gateway'}\n`);
    });
  }) as GatewayHandler;
  handler.close = () => {
    closed = true;
    for (const b of backends) {
      if (b.check) clearTimeout(b.check);
      b.check = null;
      b.client.close();
    }
  };
  return handler;
}

/**
 * Sends one request and writes the CGI reply into res as it comes: the head (Status, headers) once
 * parsed, then the body with backpressure (the backend connection pauses while res is full). Body bytes
 * are held until the end of the read that brought them: a reply that ends in that read (most do) goes
 * out as one write with a Content-Length instead of chunked pieces.
 */
function exchange(client: Client, params: Record<string, string>, body: Body | undefined, res: ServerResponse, head: boolean, log: (m: string) => void): Promise<string | null> {
  let onClose = (): void => {};
  const settled = new Promise<string | null>((resolve, reject) => {
    const relay = new Relay(res, head, log, resolve, reject);
    onClose = () => relay.clientClosed();
    client.exchange({ params, body }, relay).catch((e: unknown) => relay.fail(e));
    res.once('close', onClose);
  });
  // each local redirect is another exchange on the same res: its listener goes with it
  settled.then(
    () => res.off('close', onClose),
    () => res.off('close', onClose),
  );
  return settled;
}

/** One reply on its way from the backend to res (a class, not a set of closures: one is made per request). */
class Relay implements ReplySink {
  private readonly parser = new CgiResponseParser();
  private flow: ReplyFlow | null = null;
  private cgiHead: CgiHead | null = null;
  private wroteHead = false;
  private held: Uint8Array[] = [];
  private flushQueued = false;
  private redirect: string | null = null;
  private done = false;
  private readonly flushNow = (): void => this.flush();
  private readonly resumeFlow = (): void => this.flow?.resume();

  constructor(
    private readonly res: ServerResponse,
    private readonly head: boolean,
    private readonly log: (m: string) => void,
    private readonly resolve: (redirect: string | null) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  started(flow: ReplyFlow): void {
    this.flow = flow;
    if (this.done) flow.cancel(); // the HTTP client went away just as the request began
  }

  gone(): boolean {
    return this.done;
  }

  stdout(chunk: Uint8Array): void {
    if (this.done || this.redirect !== null) return;
    if (this.cgiHead === null) {
      let parsed;
      try {
        parsed = this.parser.push(chunk);
      } catch (err) {
        return this.fail(err);
      }
      if (parsed === null) return;
      this.cgiHead = parsed.head!;
      if (this.cgiHead.localRedirect) {
        this.redirect = this.cgiHead.location!;
        return;
      }
      chunk = parsed.body;
    }
    if (chunk.length > 0) this.held.push(chunk);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushNow);
    }
  }

  stderr(chunk: Uint8Array): void {
    this.log(`fcgi-wasm gateway: backend stderr: ${Buffer.from(chunk).toString('utf8').trimEnd()}`);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    if (this.cgiHead === null) {
      try {
        this.parser.end(); // throws INCOMPLETE_HEADERS
      } catch (err) {
        return this.reject(err);
      }
    }
    if (this.redirect === null) {
      try {
        finishReply(this.res, this.cgiHead!, this.wroteHead, this.held, this.head);
      } catch (err) {
        return this.reject(refusedHead(err));
      }
    }
    this.resolve(this.redirect);
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.flow?.cancel();
    this.reject(err);
  }

  clientClosed(): void {
    if (!this.done && !this.res.writableFinished) this.fail(new FastCGIError('CLIENT_GONE', 'the HTTP client went away'));
  }

  /** More of the body is on its way: the head goes out as it is (chunked unless the app sent a length). */
  private flush(): void {
    this.flushQueued = false;
    if (this.done) return;
    if (!this.wroteHead) {
      this.wroteHead = true;
      try {
        this.res.writeHead(this.cgiHead!.status, this.cgiHead!.statusText, this.cgiHead!.headers.flat());
      } catch (err) {
        return this.fail(refusedHead(err)); // node:http refused the app's head: 502, and the request is dropped
      }
    }
    const chunks = this.held;
    this.held = [];
    if (this.head) return;
    for (const c of chunks) {
      if (!this.res.write(c)) {
        this.flow?.pause();
        this.res.once('drain', this.resumeFlow);
      }
    }
  }
}

/** The reply is complete: what is still held goes out, with a Content-Length when the head has not gone yet. */
function finishReply(res: ServerResponse, cgiHead: CgiHead, wroteHead: boolean, held: Uint8Array[], head: boolean): void {
  if (wroteHead) {
    if (!head) for (const c of held) res.write(c);
    res.end();
    return;
  }
  const bodyBytes = held.length === 1 ? held[0]! : concatBytes(held);
  const headers = cgiHead.headers.flat();
  const framed = cgiHead.headers.some(([name]) => /^(content-length|transfer-encoding)$/i.test(name));
  if (!framed && !head && cgiHead.status !== 204 && cgiHead.status !== 304) headers.push('Content-Length', String(bodyBytes.length));
  res.writeHead(cgiHead.status, cgiHead.statusText, headers);
  if (head) res.end();
  else res.end(bodyBytes);
}

/** An error for the log: its typed code first, when it has one. */
function explain(err: unknown): string {
  if (err instanceof FastCGIError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** node:http refused to send the app's head (writeHead threw): a typed error, answered with 502. */
function refusedHead(err: unknown): FastCGIError {
  return new FastCGIError('BAD_CGI_HEADER', `the app's response head cannot be sent: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * The URL parts of a request, split from its origin-form target (`/path?query`, as sent: REQUEST_URI is
 * the raw target, as nginx's $request_uri) and its Host header, without a URL object per request.
 */
function requestUrl(req: IncomingMessage): UrlParts {
  const target = req.url ?? '/';
  const host = rawHeader(req.rawHeaders, 'host') ?? 'localhost';
  const protocol = (req.socket as { encrypted?: boolean }).encrypted ? 'https:' : 'http:';
  if (!target.startsWith('/')) return new URL(target, `${protocol}//${host}`); // absolute-form or '*'
  const q = target.indexOf('?');
  const colon = host.lastIndexOf(':');
  const hasPort = colon > host.lastIndexOf(']') && /^\d+$/.test(host.slice(colon + 1));
  return {
    protocol,
    pathname: q < 0 ? target : target.slice(0, q),
    search: q < 0 || q === target.length - 1 ? '' : target.slice(q),
    hostname: (hasPort ? host.slice(0, colon) : host).toLowerCase(),
    port: hasPort ? host.slice(colon + 1) : '',
  };
}

/** The first value of a request header from node's rawHeaders (no headers object made). */
function rawHeader(raw: string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) return raw[i + 1];
  return undefined;
}

/** A directory asked for without its '/': 301 to it. */
function moved(res: ServerResponse, location: string): void {
  res.writeHead(301, { Location: location });
  res.end();
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
