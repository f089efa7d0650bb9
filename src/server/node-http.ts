// node:http-compatible request and response objects for one FastCGI request.
//
// They are real http.IncomingMessage and http.ServerResponse instances (Express swaps their prototypes
// for its own, which inherit from these, so anything else would lose its methods). Each is attached to
// a small stand-in socket: the response writes HTTP/1.1 bytes to it as usual, and the stand-in turns the
// header block Node wrote into CGI headers (a `Status:` line instead of the status line, no hop-by-hop
// headers) and the rest into STDOUT. Node has already validated every header name and value.

import { IncomingMessage, ServerResponse, type IncomingHttpHeaders } from 'node:http';
import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';
import type { PairList } from '../codec/pairs.js';
import type { ServerRequestInfo } from '../protocol/server-connection.js';
import type { RequestChannel, RequestSink } from './socket-connection.js';
import { Role } from '../codec/constants.js';
import { FastCGIError } from '../codec/errors.js';

/** The FastCGI side of a request, as `req.fcgi` (and `res.fcgi`). */
export interface FcgiRequestContext {
  requestId: number;
  role: number;
  /** Every CGI param, in wire order (repeated names kept; get() returns the last). */
  params: PairList;
  /** Text written here goes to the web server's error log (FCGI_STDERR). */
  stderr: Writable;
  /** The app status END_REQUEST reports (default 0). */
  appStatus: number;
  /** Filter role: the file to filter (FCGI_DATA), as a stream. */
  data?: Readable;
}

export type FcgiIncomingMessage = IncomingMessage & { fcgi: FcgiRequestContext; params: Record<string, string> };
export type FcgiServerResponse = ServerResponse & { fcgi: FcgiRequestContext };
export type NodeHandler = (req: FcgiIncomingMessage, res: FcgiServerResponse) => unknown;

const HOP_BY_HOP = new Set(['connection', 'transfer-encoding', 'keep-alive']);

/** HTTP request headers from the CGI params: HTTP_X_Y -> x-y, plus content-type and content-length. */
export function headersFromParams(params: PairList): { headers: IncomingHttpHeaders; rawHeaders: string[] } {
  const headers: IncomingHttpHeaders = {};
  const rawHeaders: string[] = [];
  for (let i = 0; i < params.length; i++) {
    const name = params.name(i);
    let header: string;
    if (name.startsWith('HTTP_')) header = name.slice(5).toLowerCase().replace(/_/g, '-');
    else if (name === 'CONTENT_TYPE' || name === 'CONTENT_LENGTH') header = name.toLowerCase().replace('_', '-');
    else continue;
    const value = params.value(i);
    if (value === '' && (header === 'content-type' || header === 'content-length')) continue;
    rawHeaders.push(header, value);
    headers[header] = value;
  }
  return { headers, rawHeaders };
}

/** Filter role (spec 6.4): the DATA stream must be as long as FCGI_DATA_LENGTH says. */
export function dataLengthMismatch(params: PairList, received: number): FastCGIError | null {
  const declared = params.get('FCGI_DATA_LENGTH');
  if (declared === undefined || Number(declared) === received) return null;
  return new FastCGIError('DATA_LENGTH_MISMATCH', `FCGI_DATA_LENGTH said ${declared} bytes, the FCGI_DATA stream had ${received}`);
}

/** The CGI header block for the HTTP/1.1 header block Node wrote. */
export function cgiHeaderBlock(httpHeader: string): string {
  const lines = httpHeader.split('\r\n');
  const status = lines[0]!.replace(/^HTTP\/\d\.\d /, '');
  let out = `Status: ${status}\r\n`;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (HOP_BY_HOP.has(line.slice(0, colon).toLowerCase())) continue;
    out += line + '\r\n';
  }
  return out + '\r\n';
}

/** The stand-in socket one response writes to. */
class ResponseSocket extends EventEmitter {
  readonly conn: RequestChannel;
  readonly id: number;
  res: FcgiServerResponse | null = null;
  _httpMessage: unknown = null;
  writable = true;
  readable = true;
  destroyed = false;
  // what OutgoingMessage reads of a socket's writable side
  _writableState = { corked: 0 };
  writableLength = 0;
  writableCorked = 0;
  writableHighWaterMark = 16 * 1024;
  private readonly params: PairList;
  private headerDone = false;
  /** Body bytes written but not yet sent: they go out with END_REQUEST when the response ends in this tick. */
  private held: Uint8Array | null = null;
  private readonly onResume: () => void;

  constructor(conn: RequestChannel, id: number, params: PairList, onResume: () => void) {
    super();
    this.conn = conn;
    this.id = id;
    this.params = params;
    this.onResume = onResume;
  }

  // the web server's view of the connection, from the params (read by few apps: made when asked)
  get remoteAddress(): string | undefined {
    return this.params.get('REMOTE_ADDR');
  }
  get remotePort(): number | undefined {
    return Number(this.params.get('REMOTE_PORT')) || undefined;
  }
  get localAddress(): string | undefined {
    return this.params.get('SERVER_ADDR');
  }
  get localPort(): number | undefined {
    return Number(this.params.get('SERVER_PORT')) || undefined;
  }
  get encrypted(): boolean {
    return (this.params.get('HTTPS') ?? '').toLowerCase() === 'on' || this.params.get('REQUEST_SCHEME') === 'https';
  }

  /** The response ended: what is held goes out with the terminators and END_REQUEST, in one write. */
  finish(appStatus: number): void {
    const last = this.held ?? undefined;
    this.held = null;
    this.conn.end(this.id, appStatus, last);
  }
  private flush = (): void => {
    const held = this.held;
    this.held = null;
    if (held && !this.destroyed) this.conn.stdout(this.id, held);
  };

  write(data: string | Uint8Array, encoding?: BufferEncoding | (() => void), callback?: () => void): boolean {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    let bytes: Uint8Array;
    if (!this.headerDone && typeof data === 'string' && this.res && typeof (this.res as unknown as { _header?: string })._header === 'string') {
      const header = (this.res as unknown as { _header: string })._header;
      if (data.startsWith(header)) {
        this.headerDone = true;
        data = cgiHeaderBlock(header) + data.slice(header.length);
      }
    }
    bytes = typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : data;
    if (bytes.length > 0 && !this.destroyed) {
      // node writes a response's head and body, then ends it, in one call (res.end(body)): hold the
      // bytes until the end of this tick so that they share a buffer and a write with END_REQUEST
      if (this.held === null) {
        this.held = bytes;
        queueMicrotask(this.flush);
      } else {
        this.conn.stdout(this.id, this.held);
        this.held = bytes;
      }
    }
    if (callback) process.nextTick(callback);
    if (this.conn.needDrain) {
      // node's http.Server tells the response itself that its socket drained: so do we
      this.conn.whenDrained(() => {
        if (this.res && !this.res.writableFinished) this.res.emit('drain');
      });
      return false;
    }
    return true;
  }
  cork(): void {}
  uncork(): void {}
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  address(): { address?: string; port?: number } {
    return { address: this.localAddress, port: this.localPort };
  }
  /** IncomingMessage._read calls this when the app wants more of the body. */
  resume(): this {
    this.onResume();
    return this;
  }
  pause(): this {
    return this;
  }
  end(): void {}
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      this.writable = false;
      this.emit('close');
    }
    return this;
  }
}

/**
 * The request object: an IncomingMessage whose `params` (the CGI params as a plain object) is made on
 * first use. An accessor on the prototype, not on each instance: an accessor added to an instance
 * turns it into a slow dictionary object. (Express gives req its own prototype and sets req.params.)
 */
class FcgiRequest extends IncomingMessage {
  declare fcgi: FcgiRequestContext;
  #params: Record<string, string> | undefined;
  get params(): Record<string, string> {
    return (this.#params ??= this.fcgi.params.toObject());
  }
  set params(value: Record<string, string>) {
    this.#params = value;
  }
}

/** `req.fcgi`: the request's FastCGI side; its stderr stream is made when first used. */
class RequestContext implements FcgiRequestContext {
  appStatus = 0;
  data?: Readable;
  #stderr: Writable | undefined;
  constructor(
    readonly requestId: number,
    readonly role: number,
    readonly params: PairList,
    private readonly writeStderr: (chunk: Uint8Array) => void,
  ) {}
  get stderr(): Writable {
    const write = this.writeStderr;
    return (this.#stderr ??= new Writable({
      write(chunk: Buffer, _enc, callback) {
        write(chunk);
        callback();
      },
    }));
  }
}

/** Builds req and res for a started request, runs the handler, and returns where its input goes. */
export function startNodeRequest(conn: RequestChannel, info: ServerRequestInfo, handler: NodeHandler): RequestSink {
  const { requestId: id, params } = info;
  let ended = false;
  const socket = new ResponseSocket(conn, id, params, () => conn.relieve(id));
  const req = new FcgiRequest(socket as never) as unknown as FcgiIncomingMessage;
  const protocol = params.get('SERVER_PROTOCOL') ?? 'HTTP/1.1';
  const version = /^HTTP\/(\d)\.(\d)$/.exec(protocol);
  req.httpVersionMajor = version ? Number(version[1]) : 1;
  req.httpVersionMinor = version ? Number(version[2]) : 1;
  req.httpVersion = `${req.httpVersionMajor}.${req.httpVersionMinor}`;
  req.method = params.get('REQUEST_METHOD') ?? 'GET';
  req.url = params.get('REQUEST_URI') ?? (params.get('SCRIPT_NAME') ?? '') + (params.get('PATH_INFO') ?? '') + (params.has('QUERY_STRING') && params.get('QUERY_STRING') ? `?${params.get('QUERY_STRING')}` : '');
  const { headers, rawHeaders } = headersFromParams(params);
  req.headers = headers;
  req.rawHeaders = rawHeaders;
  const fcgi = new RequestContext(id, info.role, params, (chunk) => {
    if (!ended) conn.stderr(id, chunk);
  });
  if (info.role === Role.FILTER) fcgi.data = new Readable({ read: () => conn.relieve(id) });
  let dataBytes = 0;
  req.fcgi = fcgi;

  const res = new ServerResponse(req) as unknown as FcgiServerResponse;
  res.fcgi = fcgi;
  res.sendDate = false; // the web server adds Date
  res.useChunkedEncodingByDefault = false; // STDOUT records frame the body
  socket.res = res;
  res.assignSocket(socket as never);
  res.on('prefinish', () => {
    // everything the response wrote is out: end the request in the same tick (one write with the tail)
    if (ended) return;
    ended = true;
    socket.finish(fcgi.appStatus);
  });

  process.nextTick(() => {
    try {
      const result = handler(req, res);
      if (result instanceof Promise) result.then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  });

  function fail(err: unknown): void {
    const text = `fcgi-wasm: handler threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`;
    conn.stderr(id, Buffer.from(text));
    if (!res.headersSent) {
      res.statusCode = 500;
      res.setHeader('Content-Type', 'text/plain');
      res.end('Internal Server Error\n');
    } else if (!ended) {
      ended = true;
      socket.finish(1);
    }
  }

  return {
    stdin(chunk) {
      if (chunk.length === 0) {
        req.complete = true;
        req.push(null);
        return;
      }
      req.push(chunk);
      if (req.readableLength > conn.maxBodyBuffer) conn.congest(id);
    },
    data(chunk) {
      const stream = fcgi.data;
      if (!stream) return;
      if (chunk.length > 0) {
        dataBytes += chunk.length;
        stream.push(chunk);
        if (stream.readableLength > conn.maxBodyBuffer) conn.congest(id);
        return;
      }
      const mismatch = dataLengthMismatch(params, dataBytes);
      if (mismatch) stream.destroy(mismatch);
      else stream.push(null);
    },
    abort() {
      // 'aborted' and 'close' fire, the response is dropped, and END_REQUEST goes out at once
      if (ended) return;
      ended = true;
      conn.end(id, fcgi.appStatus);
      // destroying req emits 'aborted' unless its body had been read to the end: emit it then
      let sawAborted = false;
      req.once('aborted', () => (sawAborted = true));
      socket.destroy();
      req.destroy();
      if (!sawAborted) {
        (req as { aborted: boolean }).aborted = true;
        req.emit('aborted');
      }
      res.destroy();
    },
  };
}
