// The HTTP gateway: what nginx's fastcgi_pass does, as a node:http request handler (usable as Express /
// Connect middleware). Static files come from the document root; scripts (*.php by default) go to the
// FastCGI backends, balanced over the healthy ones with failover; backend failures become 502 and
// timeouts 504, each with the typed error in the log.
//
// Security, as the classic nginx + php-fpm mistakes taught: the script must be an existing file inside
// the document root after decoding and normalising the path (no '..', no encoded traversal, no NUL);
// a non-script file is never handed to the backend through a trailing path ('/uploads/a.jpg/x.php');
// no HTTP_PROXY from a 'Proxy' header (httpoxy); CONTENT_LENGTH is the bytes actually sent; header
// lines from the backend with CR or invalid names are refused.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { Client, bufferBody, type Body, type ClientOptions, type ReplyFlow, type ReplySink } from './client.js';
import { cgiParams, safePath, splitScript, type UrlParts } from './cgi-params.js';
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
  /** Send every request to the backend (an application server rather than a PHP docroot). */
  passAll?: boolean;
  /**
   * Options for each backend's Client (pool size, timeouts...). Timeouts default to nginx's: 60 s for
   * the first byte of the reply (counted once the request is sent) and 60 s between reply bytes.
   */
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
  /** A body without Content-Length is buffered to learn its length: at most this many bytes (413 beyond). Default 64 MiB. */
  maxBufferedBody?: number;
}

export type GatewayHandler = ((req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void) & { close(): void };

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8', '.txt': 'text/plain; charset=utf-8', '.css': 'text/css',
  '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp', '.ico': 'image/x-icon', '.wasm': 'application/wasm',
  '.pdf': 'application/pdf', '.xml': 'application/xml',
};

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
  return 502;
}

export function createGateway(options: GatewayOptions): GatewayHandler {
  const root = options.documentRoot.replace(/\/+$/, '');
  const scriptPattern = options.scriptPattern ?? /\.php$/;
  const log = options.log ?? ((m) => console.error(m));
  const backends: Backend[] = (Array.isArray(options.backends) ? options.backends : [options.backends]).map((address) => ({
    address,
    client: new Client({ ...options.client, address, timeouts: options.client?.timeouts ?? DEFAULT_TIMEOUTS }),
    down: false,
    check: null,
    checking: false,
  }));
  let next = 0;
  let closed = false;
  const lookup = statCache(options.fileCacheTime ?? 1000);
  // where the script ends in a path ('/a.php/x' -> '/a.php', '/x'), with the pattern's own flags (/i...)
  const scriptSplitter = new RegExp(`^(.+?${scriptPattern.source.replace(/\$$/, '')})(/.*)?$`, scriptPattern.flags.replace(/[gy]/g, ''));

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

  async function resolve(path: string): Promise<{ kind: 'script'; script: string; pathInfo: string } | { kind: 'file'; file: string; size: number; mtime: Date } | { kind: 'redirect'; location: string } | null> {
    if (path.endsWith('/')) {
      const index = path + (options.index ?? 'index.php');
      if ((await lookup(root + index))?.isFile()) return scriptPattern.test(index) ? { kind: 'script', script: index, pathInfo: '' } : fileAt(index);
    }
    const [script, pathInfo] = splitScript(path, scriptSplitter);
    if (scriptPattern.test(script)) {
      // only an existing script file runs: '/uploads/a.jpg/x.php' names no file, so nothing runs
      if ((await lookup(root + script))?.isFile()) return { kind: 'script', script, pathInfo };
    } else if (options.staticFiles !== false) {
      const s = await lookup(root + path);
      if (s?.isFile()) return { kind: 'file', file: root + path, size: s.size, mtime: s.mtime };
      if (s?.isDirectory() && !path.endsWith('/')) return { kind: 'redirect', location: `${path}/` };
    }
    if (options.frontController && (await lookup(root + options.frontController))?.isFile()) return { kind: 'script', script: options.frontController, pathInfo: '' };
    return null;
  }
  async function fileAt(path: string) {
    const s = (await lookup(root + path))!;
    return { kind: 'file' as const, file: root + path, size: s.size, mtime: s.mtime };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, nextFn?: (err?: unknown) => void): Promise<void> {
    const url = requestUrl(req);
    const path = safePath(url.pathname);
    const target = options.passAll ? { kind: 'script' as const, script: '', pathInfo: path } : await resolve(path);
    if (target === null) return nextFn ? nextFn() : plain(res, 404, 'Not Found\n'); // as middleware, what is not ours goes on
    if (target.kind === 'redirect') return moved(res, target.location + url.search);
    if (target.kind === 'file') return serveFile(req, res, target);

    // A body with Content-Length streams through (node's parser holds it to that length); one without
    // is buffered so that CONTENT_LENGTH is the bytes sent.
    const declared = rawHeader(req.rawHeaders, 'content-length');
    const chunked = declared === undefined && rawHeader(req.rawHeaders, 'transfer-encoding') !== undefined;
    const body: Body | undefined = chunked ? await bufferBody(req, options.maxBufferedBody ?? 64 << 20) : declared !== undefined && declared !== '0' ? req : undefined;
    const length = body instanceof Uint8Array ? body.length : Number(declared ?? 0);
    let method = req.method ?? 'GET';
    let current: UrlParts = url;
    let script = target;
    for (let hops = 0; ; hops++) {
      const params = cgiParams({ url: current, method, rawHeaders: req.rawHeaders, hasBody: body !== undefined || chunked || declared !== undefined }, hops === 0 ? length : 0, {
        documentRoot: root,
        scriptFilename: options.passAll ? root : root + script.script,
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
      const next = options.passAll ? { kind: 'script' as const, script: '', pathInfo: safePath(current.pathname) } : await resolve(safePath(current.pathname));
      if (next === null) return plain(res, 404, 'Not Found\n');
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
        res.destroy(err instanceof Error ? err : undefined);
        return;
      }
      const status = statusForError(err);
      log(`fcgi-wasm gateway: ${req.method} ${req.url} -> ${status}: ${err instanceof Error ? err.message : String(err)}`);
      plain(res, status, `${status === 504 ? 'Gateway Timeout' : status === 503 ? 'Service Unavailable' : status === 400 ? 'Bad Request' : status === 413 ? 'Payload Too Large' : 'Bad Gateway'}\n`);
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
  return new Promise((resolve, reject) => {
    const relay = new Relay(res, head, log, resolve, reject);
    client.exchange({ params, body }, relay).catch((e: unknown) => relay.fail(e));
    res.once('close', () => relay.clientClosed());
  });
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

/** nginx's defaults: fastcgi_read_timeout 60 s, before the first reply byte and between reply bytes. */
const DEFAULT_TIMEOUTS = { firstByte: 60_000, idle: 60_000 };

/** node:http refused to send the app's head (writeHead threw): a typed error, answered with 502. */
function refusedHead(err: unknown): FastCGIError {
  return new FastCGIError('BAD_CGI_HEADER', `the app's response head cannot be sent: ${err instanceof Error ? err.message : String(err)}`);
}

type FileInfo = { isFile(): boolean; isDirectory(): boolean; size: number; mtime: Date } | null;

/** stat() with results (found or not) remembered for `ttl` ms, at most 10,000 of them. */
function statCache(ttl: number): (path: string) => Promise<FileInfo> {
  const cache = new Map<string, { at: number; info: Promise<FileInfo> }>();
  return (path) => {
    const now = Date.now();
    const hit = cache.get(path);
    if (hit && now - hit.at < ttl) return hit.info;
    const info = stat(path).catch(() => null);
    if (ttl > 0) {
      if (cache.size >= 10_000) cache.clear();
      cache.set(path, { at: now, info });
    }
    return info;
  };
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

/** A file from the document root; `asGet`: the target of a local redirect (RFC 3875 6.2.2), never a 304 for the original URL's If-Modified-Since. */
function serveFile(req: IncomingMessage, res: ServerResponse, f: { file: string; size: number; mtime: Date }, asGet = false): void {
  const modified = f.mtime.toUTCString();
  if (!asGet && req.headers['if-modified-since'] === modified) {
    res.writeHead(304);
    return void res.end();
  }
  res.writeHead(200, { 'Content-Type': MIME[extname(f.file).toLowerCase()] ?? 'application/octet-stream', 'Content-Length': f.size, 'Last-Modified': modified });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(f.file).on('error', (e) => res.destroy(e)).pipe(res);
}


