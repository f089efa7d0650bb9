// ClientConnection: the web-server side of one FastCGI connection, sans I/O. The caller begins requests
// and streams their input; the peer's records come back as per-request events. No sockets, no timers.
//
// - request ids are the smallest free ones, from 1 (small ids keep apps' tables small; nginx uses 1);
// - params are packed so that no pair straddles records (php-fpm parses each PARAMS record alone), and
//   the empty PARAMS and the empty STDIN are always sent;
// - a request is finished by END_REQUEST alone (php-fpm sends no empty STDOUT); a reply for an id that
//   is not active, or a request record from the app, is a protocol error that closes the connection.

import { Decoder, type DecoderOptions } from '../codec/decoder.js';
import { Encoder, type Pairs } from '../codec/encoder.js';
import { FastCGIError, FastCGIProtocolError } from '../codec/errors.js';
import { feed } from './feed.js';
import { Flags, RecordType, Role } from '../codec/constants.js';
import type { PairList } from '../codec/pairs.js';
import { RequestIds } from './request-ids.js';

export interface ClientConnectionHandler {
  /** Bytes for the app, in order (a list, for writev). */
  write(parts: Uint8Array[]): void;
  /** The connection is done (the app broke the protocol when `error` is set). */
  close(error?: FastCGIProtocolError): void;
  stdout(requestId: number, chunk: Uint8Array): void;
  stderr(requestId: number, chunk: Uint8Array): void;
  /** END_REQUEST: the request is over and its id free again. */
  end(requestId: number, appStatus: number, protocolStatus: number): void;
  /** A GET_VALUES_RESULT. */
  values?(pairs: PairList): void;
}

export interface BeginOptions {
  role?: number;
  /** Ask the app to keep the connection open after this request (FCGI_KEEP_CONN). Default true. */
  keepConn?: boolean;
}

/** The handler of a disposed connection: nothing it is told goes anywhere. */
const DISPOSED: ClientConnectionHandler = { write() {}, close() {}, stdout() {}, stderr() {}, end() {} };

export class ClientConnection {
  private handler: ClientConnectionHandler; // an inert one after dispose()
  private readonly decoder: Decoder;
  private readonly encoder: Encoder;
  /** Active request ids. */
  private readonly active = new RequestIds();
  private closed = false;

  /**
   * `pooledOutput`: small outputs share memory slabs (Encoder's `pooled`), for a caller that writes each
   * one to its socket at once and keeps none. Default false: every output owns its ArrayBuffer.
   */
  constructor(handler: ClientConnectionHandler, options: DecoderOptions & { pooledOutput?: boolean } = {}) {
    this.handler = handler;
    this.encoder = new Encoder({ pooled: options.pooledOutput });
    this.decoder = new Decoder(
      {
        fragment: (type, id, bytes) => this.onFragment(type, id, bytes),
        pairs: (type, id, pairs) => {
          if (type === RecordType.GET_VALUES_RESULT && id === 0) this.handler.values?.(pairs);
        },
        end: (id, appStatus, protocolStatus) => {
          if (this.closed || !this.active.free(id)) return;
          this.handler.end(id, appStatus, protocolStatus);
        },
      },
      options,
    );
  }

  get openRequests(): number {
    return this.active.size;
  }
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Starts a request: BEGIN_REQUEST and the params (terminated). With `body`, the whole request body
   * and its STDIN end follow in the same write (one syscall, and fcgi2 needs them together: it answers
   * before reading STDIN and takes a late STDIN end for a stray record). Returns the request id.
   */
  begin(params: Pairs, options: BeginOptions = {}, body?: Uint8Array): number {
    if (this.closed) throw new FastCGIError('CONNECTION_CLOSED', 'fcgi-wasm: a request cannot begin on a closed connection');
    const id = this.active.take();
    let bytes: Uint8Array[];
    try {
      bytes = this.encoder.requestStart(id, options.role ?? Role.RESPONDER, options.keepConn === false ? 0 : Flags.KEEP_CONN, params, body);
    } catch (e) {
      this.active.free(id); // params the encoder refused: nothing was sent, the id is free again
      throw e;
    }
    this.handler.write(bytes);
    return id;
  }

  /** Request body bytes; an empty chunk ends STDIN. */
  stdin(id: number, chunk: Uint8Array, end = false): void {
    this.input(RecordType.STDIN, id, chunk, end);
  }
  /** Filter role file bytes; an empty chunk ends DATA. */
  data(id: number, chunk: Uint8Array, end = false): void {
    this.input(RecordType.DATA, id, chunk, end);
  }
  private input(type: number, id: number, chunk: Uint8Array, end: boolean): void {
    if (this.closed || !this.active.has(id)) return;
    if (chunk.length > 0 || end) this.handler.write(this.encoder.stream(type, id, chunk, end));
  }

  /** Asks the app to abort a request (it still answers with END_REQUEST). */
  abort(id: number): void {
    if (this.closed || !this.active.has(id)) return;
    this.handler.write([this.encoder.abortRequest(id)]);
  }

  /** Asks the app for FCGI_MAX_CONNS, FCGI_MAX_REQS and FCGI_MPXS_CONNS. */
  getValues(names: string[] = ['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS']): void {
    this.handler.write([this.encoder.getValues(names)]);
  }

  /**
   * The transport is gone: drop the active ids, the decoder's state and the handler, and ignore every
   * later call. As with ServerConnection.dispose(): closed connections can stay reachable for a while
   * (young-generation collections kept them), so a closed one should reach as little as possible.
   */
  dispose(): void {
    this.closed = true;
    this.active.clear();
    this.decoder.dispose();
    this.handler = DISPOSED;
  }

  /** Bytes from the app. A protocol error closes the connection (handler.close(error)). */
  receive(chunk: Uint8Array): void {
    if (!this.closed) feed(this.decoder, chunk, (e) => this.fail(e));
  }

  /** The app closed the connection. */
  receiveEnd(): void {
    if (this.closed || !feed(this.decoder, null, (e) => this.fail(e))) return;
    this.closed = true;
    this.handler.close();
  }

  /** Record content as it arrives (a view of the socket's chunk): STDOUT and STDERR go on as they come. */
  private onFragment(type: number, id: number, content: Uint8Array): void {
    if (this.closed) return;
    if (id === 0) return; // management replies: GET_VALUES_RESULT (above), UNKNOWN_TYPE
    if (!this.active.has(id)) {
      this.fail(new FastCGIProtocolError('UNEXPECTED_REQUEST_ID', `UNEXPECTED_REQUEST_ID: the app sent ${type === RecordType.STDOUT ? 'FCGI_STDOUT' : `a type ${type} record`} for request ${id}, which is not active`, this.decoder.offset));
      return;
    }
    if (type === RecordType.STDOUT) {
      if (content.length > 0) this.handler.stdout(id, content);
    } else if (type === RecordType.STDERR) {
      if (content.length > 0) this.handler.stderr(id, content);
    } else if (type !== RecordType.END_REQUEST) {
      this.fail(new FastCGIProtocolError('UNEXPECTED_RECORD', `UNEXPECTED_RECORD: the app sent a record of type ${type} for request ${id}`, this.decoder.offset));
    }
  }

  private fail(error: FastCGIProtocolError): void {
    if (this.closed) return;
    this.closed = true;
    this.handler.close(error);
  }
}
