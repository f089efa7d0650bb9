// ServerConnection: the application side of one FastCGI connection, sans I/O. Bytes in (receive),
// events out (the handler), bytes out (handler.write). No sockets, no timers, no globals.
//
// What it decides, per the spec (sections 3.3, 4, 5, 6) and the interop notes of the conformance set:
// - BEGIN_REQUEST starts a request; an unknown role gets END_REQUEST(UNKNOWN_ROLE); a second request
//   while one is active gets CANT_MPX_CONN when multiplexing is off, OVERLOADED past maxRequests;
// - a BEGIN for an id whose request has all its input (pipelined keep-alive requests, fcgi2 loses
//   them) is queued and started when the earlier one has ended; before that, it is a protocol error;
//   what queued requests hold (their count, their params, their early STDIN/DATA) is bounded: past the
//   bound the handler is asked to stop reading (holdInput) until one of them starts;
// - the params of all the request heads in progress on a connection count against maxParamsBytes
//   together (each one alone is the decoder's to bound): a peer cannot hold a megabyte per request id;
// - the request starts (handler.request) when its PARAMS stream ends; STDIN and DATA arrive after;
// - ABORT_REQUEST tells the handler, which still ends the request (END_REQUEST follows);
// - GET_VALUES is answered here; other management records get UNKNOWN_TYPE; records for ids that are
//   not active are ignored;
// - end() writes the stream terminators and END_REQUEST in one write; without KEEP_CONN, the
//   connection closes once no request is left;
// - the peer's end of input (a half-close) aborts only the requests whose input it cut short: a request
//   whose input was complete is answered, then the connection closes (fcgi2 and Go answer too).

import { Decoder } from '../codec/decoder.js';
import { Encoder } from '../codec/encoder.js';
import { PairList } from '../codec/pairs.js';
import { FastCGIProtocolError } from '../codec/errors.js';
import { DEFAULT_MAX_PARAMS_BYTES } from '../codec/decoder.js';
import { feed } from './feed.js';
import { Flags, Fragment, ProtocolStatus, RecordType, Role, Values } from '../codec/constants.js';

export interface ServerConnectionOptions {
  /**
   * Small outputs share memory slabs (Encoder's `pooled`): for a caller that writes each output to its
   * socket at once and keeps none. Default false: every output owns its ArrayBuffer.
   */
  pooledOutput?: boolean;
  /** Accept several requests at once on this connection (FCGI_MPXS_CONNS). Default true. */
  multiplex?: boolean;
  /** Requests open at once on this connection; more get OVERLOADED (FCGI_MAX_REQS). Default 100. */
  maxRequests?: number;
  /** Reported as FCGI_MAX_CONNS (the server enforces it). Default 1024. */
  maxConnections?: number;
  /** PARAMS bytes per request (PARAMS_TOO_LARGE beyond). Default 1 MiB. */
  maxParamsBytes?: number;
  /** Longest single pair (PAIR_TOO_LONG beyond). Default 1 MiB. */
  maxPairBytes?: number;
  /** Memory the partial pairs of the connection may hold together (PARTIAL_PAIRS_TOO_LARGE beyond; see DecoderOptions). */
  maxPartialPairBytes?: number;
  /**
   * Request body bytes (STDIN, DATA) held unread. Here: for the requests queued behind another on their
   * id (pipelined, not started yet), all together; past this the handler is asked to stop reading
   * (holdInput). The server also bounds each started request's unread body by it. Default 1 MiB.
   */
  maxBodyBuffer?: number;
}

/** Requests that may wait behind others on their ids (pipelined); past this, input is held. */
export const MAX_QUEUED_REQUESTS = 16;
/**
 * What one held STDIN/DATA record costs beyond its content (its entry and the object around it): a peer
 * sending one-byte records must not hold a hundred bytes of ours for each byte it counts as one.
 */
const QUEUED_RECORD_COST = 64;
/** Early records this small are copied so that they do not keep the peer's whole chunk alive. */
const COPY_BELOW = 1024;

/** One request as the protocol sees it. */
export interface ServerRequestInfo {
  requestId: number;
  role: number;
  keepConn: boolean;
  params: PairList;
}

export interface ServerConnectionHandler {
  /** Bytes for the peer, in order (a list, for writev). */
  write(parts: Uint8Array[]): void;
  /** The connection is done: close it after the writes. With an error, the peer broke the protocol. */
  close(error?: FastCGIProtocolError): void;
  /** A request's params are complete. */
  request(info: ServerRequestInfo): void;
  /** Request body bytes; `chunk` empty = end of STDIN. */
  stdin(requestId: number, chunk: Uint8Array): void;
  /** Filter role file bytes; `chunk` empty = end of DATA. */
  data?(requestId: number, chunk: Uint8Array): void;
  /** The web server aborted the request (FCGI_ABORT_REQUEST); the app should end() it soon. */
  abort(requestId: number): void;
  /** Asked on every BEGIN_REQUEST: true answers OVERLOADED (e.g. the process is shutting down). */
  overloaded?(): boolean;
  /**
   * Queued requests hold as much as they may (MAX_QUEUED_REQUESTS, or maxBodyBuffer bytes): true asks
   * the caller to stop reading the peer, false lets it read again (one of them started).
   */
  holdInput?(hold: boolean): void;
}

type Phase = 'params' | 'stdin' | 'data' | 'done';

interface RequestState {
  id: number;
  role: number;
  keepConn: boolean;
  params: PairList;
  phase: Phase;
  started: boolean;
  aborted: boolean;
  /** Input that arrived before the request started (a queued pipelined request). */
  early: [type: number, chunk: Uint8Array][] | null;
  /** What `early` (and, once queued with its head complete, its params) counts against maxBodyBuffer. */
  earlyCost: number;
  /** PARAMS content bytes received for it. */
  headBytes: number;
  stdoutUsed: boolean;
  stderrUsed: boolean;
}

/** A request's params before its first PARAMS record: shared, never handed to a handler (start() makes its own). */
const NO_PARAMS = new PairList();

const KNOWN_ROLES = new Set<number>([Role.RESPONDER, Role.AUTHORIZER, Role.FILTER]);

/** The handler of a disposed connection: nothing it is told goes anywhere. */
const DISPOSED: ServerConnectionHandler = { write() {}, close() {}, request() {}, stdin() {}, abort() {} };

export class ServerConnection {
  private handler: ServerConnectionHandler; // an inert one after dispose()
  private readonly decoder: Decoder;
  private readonly encoder: Encoder;
  private readonly multiplex: boolean;
  private readonly maxRequests: number;
  private readonly maxConnections: number;
  private readonly maxQueuedInput: number;
  private readonly maxParamsBytes: number;
  /** PARAMS bytes of the heads in progress (their params not ended), all together. */
  private headBytes = 0;
  /** Per id: the active request first, then requests queued behind it (pipelined on one id). */
  private readonly requests = new Map<number, RequestState[]>();
  private active = 0;
  /** Requests started (their handler told) and not yet ended. */
  private running = 0;
  /** Requests waiting behind another on their id, and the input they hold (for holdInput). */
  private queued = 0;
  private queuedCost = 0;
  private holding = false;
  /** Request heads (BEGIN_REQUEST through the end of PARAMS): whether one began, how many are partial, how many completed (or were refused). */
  private sawBegin = false;
  private partialHeads = 0;
  private headsDone = 0;
  private closeWhenIdle = false;
  private closed = false;
  private unreadInput = false;

  constructor(handler: ServerConnectionHandler, options: ServerConnectionOptions = {}) {
    this.handler = handler;
    this.encoder = new Encoder({ pooled: options.pooledOutput });
    this.multiplex = options.multiplex ?? true;
    this.maxRequests = this.multiplex ? (options.maxRequests ?? 100) : 1;
    this.maxConnections = options.maxConnections ?? 1024;
    this.maxQueuedInput = options.maxBodyBuffer ?? 1 << 20;
    this.maxParamsBytes = options.maxParamsBytes ?? DEFAULT_MAX_PARAMS_BYTES;
    this.decoder = new Decoder(
      {
        fragment: (type, id, bytes, flags) => this.onFragment(type, id, bytes, flags),
        pairs: (type, id, pairs, continues) => this.onPairs(type, id, pairs, continues),
        begin: (id, role, flags) => this.onBegin(id, role, flags),
      },
      { maxParamsBytes: options.maxParamsBytes, maxPairBytes: options.maxPairBytes, maxPartialPairBytes: options.maxPartialPairBytes },
    );
  }

  /** Request ids open on this connection (started or not). */
  get openRequests(): number {
    return this.active;
  }
  /** Requests started and not yet ended: what closing the connection would cut short. */
  get startedRequests(): number {
    return this.running;
  }
  get isClosed(): boolean {
    return this.closed;
  }
  /** False when a finished request had not sent all its input: the peer may still be writing. */
  get inputComplete(): boolean {
    return !this.unreadInput;
  }
  /**
   * How far the peer has got with request heads (BEGIN_REQUEST through the end of PARAMS): `waiting` is
   * true before its first BEGIN_REQUEST and while any request's params are incomplete; `done` counts
   * completed heads, so a caller that times heads can tell a stalled peer from a busy one.
   */
  get heads(): { waiting: boolean; done: number } {
    return { waiting: !this.sawBegin || this.partialHeads > 0, done: this.headsDone };
  }

  /** Bytes from the peer. A protocol error closes the connection (handler.close(error)); nothing throws. */
  receive(chunk: Uint8Array): void {
    if (!this.closed) feed(this.decoder, chunk, (e) => this.fail(e));
  }

  /**
   * The peer closed its side (its FIN: it sends nothing more). Requests whose input is complete go on
   * and are answered; those it cut short are aborted (started) or dropped (not started). The connection
   * closes once no request is left. A truncated record is a protocol error.
   */
  receiveEnd(): void {
    if (this.closed || !feed(this.decoder, null, (e) => this.fail(e))) return;
    this.closeWhenIdle = true;
    for (const [id, queue] of this.requests) {
      // only the newest request on an id can have incomplete input (a BEGIN behind it is refused)
      const newest = queue[queue.length - 1]!;
      if (newest.phase === 'done') continue;
      if (newest.started) this.abortRequest(newest);
      else {
        queue.pop(); // nothing of it ran and nothing can complete it: dropped
        if (newest.phase === 'params') this.headDropped(newest);
        if (queue.length > 0) this.unqueue(newest);
        else {
          this.requests.delete(id);
          this.active--;
        }
      }
    }
    if (this.active === 0) this.shut();
  }

  /**
   * The transport is gone: drop the requests, the decoder's state and the handler, and ignore every
   * later call. Something can keep a closed connection reachable for a while after its socket closed
   * (under a connection per request, closed connections survived young-generation collections and
   * were promoted), so a closed connection should reach as little as possible.
   */
  dispose(): void {
    this.closed = true;
    if (this.requests.size > 0) this.requests.clear(); // clear() makes a new table even when empty
    this.active = this.running = 0;
    this.decoder.dispose();
    this.handler = DISPOSED;
  }

  /** STDOUT bytes of a request (framed as records; large payloads as slices of `chunk`). */
  stdout(requestId: number, chunk: Uint8Array): void {
    this.output(requestId, RecordType.STDOUT, chunk);
  }
  /** STDERR bytes of a request. */
  stderr(requestId: number, chunk: Uint8Array): void {
    this.output(requestId, RecordType.STDERR, chunk);
  }

  /**
   * Ends a request: `lastStdout` (if any), the STDOUT terminator (always), the STDERR terminator (if
   * stderr was written) and END_REQUEST, all in one write.
   */
  end(requestId: number, appStatus = 0, lastStdout?: Uint8Array): void {
    const r = this.current(requestId);
    if (r === undefined || this.closed) return;
    this.handler.write(this.encoder.endOfRequest(requestId, appStatus >>> 0, ProtocolStatus.REQUEST_COMPLETE, lastStdout, r.stderrUsed));
    this.finish(r);
  }

  private output(requestId: number, type: number, chunk: Uint8Array): void {
    const r = this.current(requestId);
    if (r === undefined || this.closed || chunk.length === 0) return;
    if (type === RecordType.STDOUT) r.stdoutUsed = true;
    else r.stderrUsed = true;
    this.handler.write(this.encoder.stream(type, requestId, chunk));
  }

  /** The started request answering on this id, if any. */
  private current(id: number): RequestState | undefined {
    const head = this.requests.get(id)?.[0];
    return head?.started ? head : undefined;
  }

  private onBegin(id: number, role: number, flags: number): void {
    if (this.closed) return; // the rest of a chunk after a rule broken earlier in it
    this.sawBegin = true;
    const keepConn = (flags & Flags.KEEP_CONN) !== 0;
    const queue = this.requests.get(id);
    if (queue !== undefined) {
      const newest = queue[queue.length - 1]!;
      if (newest.phase !== 'done') {
        this.fail(new FastCGIProtocolError('BEGIN_FOR_ACTIVE_ID', `BEGIN_FOR_ACTIVE_ID: FCGI_BEGIN_REQUEST for request ${id}, whose input has not ended`, this.decoder.offset));
        return;
      }
    }
    if (!KNOWN_ROLES.has(role)) return this.reject(id, ProtocolStatus.UNKNOWN_ROLE, keepConn);
    if (queue === undefined) {
      if (this.active >= this.maxRequests) {
        return this.reject(id, this.multiplex ? ProtocolStatus.OVERLOADED : ProtocolStatus.CANT_MPX_CONN, keepConn);
      }
      if (this.handler.overloaded?.()) return this.reject(id, ProtocolStatus.OVERLOADED, keepConn);
      if (this.closed) return; // disposed of by the handler while asked
    }
    const r: RequestState = {
      // params and early input are made when first needed: a request aborted or refused before its params makes neither
      id, role, keepConn, params: NO_PARAMS, phase: 'params', started: false, aborted: false, early: null, earlyCost: 0, headBytes: 0, stdoutUsed: false, stderrUsed: false,
    };
    this.partialHeads++;
    if (queue === undefined) {
      this.requests.set(id, [r]);
      this.active++;
    } else {
      queue.push(r);
      this.queued++;
      this.updateHold();
    }
  }

  /** Refuses a request with END_REQUEST(status); records for its id are then ignored. */
  private reject(id: number, status: number, keepConn: boolean): void {
    this.headsDone++;
    this.handler.write([this.encoder.endRequest(id, 0, status)]);
    if (!keepConn && this.active === 0) this.shut();
  }

  private onPairs(type: number, id: number, pairs: PairList, continues: boolean): void {
    if (this.closed) return;
    if (type === RecordType.GET_VALUES && id === 0) {
      const answer: [string, string][] = [];
      for (const [name] of pairs) {
        if (name === Values.MAX_CONNS) answer.push([name, String(this.maxConnections)]);
        else if (name === Values.MAX_REQS) answer.push([name, String(this.maxRequests)]);
        else if (name === Values.MPXS_CONNS) answer.push([name, this.multiplex ? '1' : '0']);
      }
      this.handler.write([this.encoder.getValuesResult(answer)]);
      return;
    }
    if (type !== RecordType.PARAMS) return;
    const r = this.newest(id);
    if (r === undefined || r.phase !== 'params') return;
    // a record that completed no pair and left none open is the empty one that ends the params (a
    // record holding only part of a long pair completes none either)
    if (pairs.length > 0 || continues) {
      // the first record's list becomes the request's (no copy); later ones are appended to it
      if (r.params === NO_PARAMS) r.params = pairs;
      else r.params.append(pairs);
      return;
    }
    r.phase = 'stdin';
    this.partialHeads--;
    this.headsDone++;
    this.headBytes -= r.headBytes;
    const queue = this.requests.get(id)!;
    if (queue[0] === r) this.start(r);
    else this.holdEarly(r, r.headBytes); // queued: its params wait with it
  }

  /** Record content as it arrives (a view of the socket's chunk): STDIN and DATA go on as they come. */
  private onFragment(type: number, id: number, content: Uint8Array, flags: number): void {
    if (this.closed) return;
    const whole = (flags & Fragment.END) !== 0; // records acted on as a whole are acted on at their end
    if (id === 0) {
      // management records (spec 4): GET_VALUES is answered in onPairs; anything else is unknown
      if (whole && type !== RecordType.GET_VALUES) this.handler.write([this.encoder.unknownType(type)]);
      return;
    }
    const r = this.newest(id);
    if (r === undefined) return; // inactive id: ignored (spec 3.3)
    if (type === RecordType.PARAMS && r.phase === 'params') {
      r.headBytes += content.length;
      this.headBytes += content.length;
      if (this.headBytes > this.maxParamsBytes) {
        this.fail(new FastCGIProtocolError('PARAMS_TOO_LARGE', `PARAMS_TOO_LARGE: the request heads in progress on this connection hold more than ${this.maxParamsBytes} bytes of params (maxParamsBytes)`, this.decoder.offset));
      }
      return;
    }
    if (type === RecordType.ABORT_REQUEST && whole) {
      if (r.started) this.abortRequest(r);
      else this.dropUnstarted(r);
      return;
    }
    // only an empty record (STREAM_END) is an empty fragment: it ends the stream
    if (type === RecordType.STDIN && r.phase === 'stdin') {
      if (content.length === 0) r.phase = r.role === Role.FILTER ? 'data' : 'done';
      this.input(r, type, content);
    } else if (type === RecordType.DATA && r.phase === 'data') {
      if (content.length === 0) r.phase = 'done';
      this.input(r, type, content);
    }
    // other records for an active request (e.g. STDIN before PARAMS ended, unknown types): ignored
  }

  private input(r: RequestState, type: number, chunk: Uint8Array): void {
    if (!r.started) {
      if (r.aborted) return; // aborted while queued: nothing of it will run
      (r.early ??= []).push([type, chunk.length < COPY_BELOW ? chunk.slice() : chunk]);
      this.holdEarly(r, chunk.length + QUEUED_RECORD_COST);
      return;
    }
    if (type === RecordType.STDIN) this.handler.stdin(r.id, chunk);
    else this.handler.data?.(r.id, chunk);
  }

  private start(r: RequestState): void {
    r.started = true;
    this.running++;
    if (r.aborted) return this.end(r.id, 0); // aborted while queued: answered in its turn, nothing ran
    if (r.params === NO_PARAMS) r.params = new PairList(); // the handler's own, even when empty
    this.handler.request({ requestId: r.id, role: r.role, keepConn: r.keepConn, params: r.params });
    const early = r.early;
    this.releaseEarly(r);
    if (early !== null) for (const [type, chunk] of early) {
      if (type === RecordType.STDIN) this.handler.stdin(r.id, chunk);
      else this.handler.data?.(r.id, chunk);
    }
  }

  private abortRequest(r: RequestState): void {
    if (r.aborted) return;
    r.aborted = true;
    this.handler.abort(r.id);
  }

  /**
   * An ABORT for a request that has not started. At the head of its id (its params have not ended):
   * answered at once. Queued behind another on its id: its END_REQUEST must not come before the earlier
   * request's (the peer tells them apart only by order), so it is answered in its turn, unrun.
   */
  private dropUnstarted(r: RequestState): void {
    if (this.requests.get(r.id)![0] !== r) {
      r.aborted = true;
      this.releaseEarly(r);
      return;
    }
    r.started = true; // so that end() accepts it
    this.running++;
    this.end(r.id, 0);
  }

  /** The newest request on an id: the one incoming records belong to. */
  private newest(id: number): RequestState | undefined {
    const queue = this.requests.get(id);
    return queue?.[queue.length - 1];
  }

  private finish(r: RequestState): void {
    const queue = this.requests.get(r.id);
    if (queue === undefined) return; // the handler disposed of the connection while it was told
    queue.shift();
    this.running--;
    if (!r.keepConn) this.closeWhenIdle = true;
    if (r.phase !== 'done') this.unreadInput = true;
    if (r.phase === 'params') this.headDropped(r); // aborted before its params ended
    const next = queue[0];
    if (next === undefined) {
      this.requests.delete(r.id);
      this.active--;
    } else {
      this.queued--; // now at the head of its id (its early input is counted until it starts)
      if (next.phase !== 'params' || next.aborted) this.start(next);
      else this.updateHold();
    }
    if (this.closeWhenIdle && this.active === 0) this.shut();
  }

  /** A request whose head was in progress is gone before its params ended. */
  private headDropped(r: RequestState): void {
    this.partialHeads--;
    this.headBytes -= r.headBytes;
  }

  /** A queued request holds `cost` more bytes until it starts. */
  private holdEarly(r: RequestState, cost: number): void {
    r.earlyCost += cost;
    this.queuedCost += cost;
    this.updateHold();
  }

  /** A queued request left its queue without starting. */
  private unqueue(r: RequestState): void {
    this.queued--;
    this.releaseEarly(r);
  }

  /** What a request held before it started no longer counts: it started, or it never will. */
  private releaseEarly(r: RequestState): void {
    this.queuedCost -= r.earlyCost;
    r.early = null;
    r.earlyCost = 0;
    this.updateHold();
  }

  /** Tells the handler when queued requests reach their bounds, and when they are back under them. */
  private updateHold(): void {
    const hold = this.queued >= MAX_QUEUED_REQUESTS || this.queuedCost > this.maxQueuedInput;
    if (hold === this.holding) return;
    this.holding = hold;
    this.handler.holdInput?.(hold);
  }

  private fail(error: FastCGIProtocolError): void {
    if (this.closed) return;
    const handler = this.handler; // told of the error even if an abort below disposes of the connection
    for (const queue of this.requests.values()) for (const r of queue) if (r.started && !r.aborted) this.abortRequest(r);
    this.closed = true;
    this.requests.clear();
    this.active = this.running = 0;
    handler.close(error);
  }

  private shut(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler.close();
  }
}

