// One probe's connection to the app under test: it writes what the probe built, reads everything the
// app sends back with the codec's Decoder, and waits for what the probe expects, never past the
// probe's deadline. What the app sent is kept as facts a probe judges (records, END_REQUESTs with the
// state of their streams, GET_VALUES_RESULT, UNKNOWN_TYPE, how the connection ended).

import type { Socket } from 'node:net';
import { connectTo } from '../../client/connect.js';
import { Decoder } from '../../codec/decoder.js';
import { Encoder } from '../../codec/encoder.js';
import { FastCGIError, FastCGIProtocolError } from '../../codec/errors.js';
import { RecordType } from '../../codec/constants.js';
import { concatBytes } from '../../codec/bytes.js';
import { CgiResponseParser } from '../../protocol/cgi-response.js';

/** Bytes of the app's reply kept for --verbose; the rest is counted, not kept. */
const KEEP_BYTES = 16 * 1024;
/**
 * Records, END_REQUESTs, values and UNKNOWN_TYPEs kept per connection: far more than any probe
 * waits for, and a bound on what an app streaming tiny records for the whole timeout makes us hold.
 */
const KEEP_FACTS = 1024;

/** One FCGI_END_REQUEST and the state of its request's streams when it came. */
export interface EndSeen {
  requestId: number;
  appStatus: number;
  protocolStatus: number;
  /** The body is the one a spec-following app writes: reserved bytes zero (spec 5.5; php-fpm: R08). */
  canonical: boolean;
  /** The CGI status of the STDOUT head (RFC 3875 6.3.3), when a head came. */
  status?: number;
  stdoutBytes: number;
  /** The empty STDOUT record that ends the stream came before END_REQUEST (spec 3.3, 6.1). */
  stdoutEnded: boolean;
  stderrBytes: number;
  stderrEnded: boolean;
}

/** What the app sent on one connection. */
export interface Reply {
  /** The records (the first KEEP_FACTS): type, request id, content and padding lengths. */
  records: { type: number; requestId: number; contentLength: number; paddingLength: number }[];
  ends: EndSeen[];
  /** The pairs of FCGI_GET_VALUES_RESULT, if one came. */
  values: [string, string][] | null;
  /** The types named by FCGI_UNKNOWN_TYPE records. */
  unknownTypes: number[];
  /** The app's bytes broke the protocol. */
  error: FastCGIProtocolError | null;
  /** How the app ended the connection: its FIN ('closed') or a reset; null while it is open. */
  closed: 'closed' | 'reset' | null;
  /** The first bytes the app sent (for --verbose) and how many it sent in all. */
  head: Uint8Array[];
  bytes: number;
}

interface Streams {
  parser: CgiResponseParser;
  status?: number;
  stdoutBytes: number;
  stdoutEnded: boolean;
  stderrBytes: number;
  stderrEnded: boolean;
}

export class ConnectFailure extends Error {
  constructor(readonly refused: boolean, message: string) {
    super(message);
  }
}

const keep = <T>(list: T[], item: T): void => {
  if (list.length < KEEP_FACTS) list.push(item);
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Wire {
  readonly reply: Reply = { records: [], ends: [], values: null, unknownTypes: [], error: null, closed: null, head: [], bytes: 0 };
  private readonly encoder = new Encoder();
  private readonly streams = new Map<number, Streams>();
  private readonly decoder: Decoder;
  private wake: (() => void) | null = null;
  private kept = 0;
  /** The body of the END_REQUEST being decoded (its record() comes right before its end()). */
  private lastEndBody: Uint8Array | null = null;

  /** A connection to `address`, opened before `deadline` (performance.now() ms) or ConnectFailure. */
  static open(address: string, deadline: number): Promise<Wire> {
    let socket: Socket;
    try {
      socket = connectTo(address);
    } catch (e) {
      return Promise.reject(new ConnectFailure(true, e instanceof Error ? e.message : String(e)));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectFailure(false, `connecting took longer than the probe's timeout`));
      }, Math.max(0, deadline - performance.now()));
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new ConnectFailure(true, err.message));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new Wire(socket, deadline));
      });
    });
  }

  private constructor(private readonly socket: Socket, private deadline: number) {
    socket.setNoDelay(true);
    this.decoder = new Decoder({
      record: (type, requestId, content, paddingLength) => this.record(type, requestId, content, paddingLength),
      pairs: (type, _id, pairs) => {
        if (type === RecordType.GET_VALUES_RESULT) this.reply.values = [...(this.reply.values ?? []), ...pairs.toArray()].slice(0, KEEP_FACTS);
      },
      end: (requestId, appStatus, protocolStatus) => this.end(requestId, appStatus, protocolStatus),
      unknownType: (type) => keep(this.reply.unknownTypes, type),
    });
    socket.on('data', (chunk: Uint8Array) => this.receive(chunk));
    // a reset is worth telling apart (php-fpm resets what it rejects); an error writing to a closed connection is not one
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET') this.reply.closed = 'reset';
      else this.reply.closed ??= 'closed';
    });
    socket.on('end', () => (this.reply.closed ??= 'closed'));
    socket.on('close', () => {
      this.reply.closed ??= 'closed';
      this.poke();
    });
  }

  /** Writes `parts` as one write (one TCP segment when small). */
  send(...parts: Uint8Array[]): void {
    if (!this.socket.destroyed) this.socket.write(parts.length === 1 ? parts[0]! : concatBytes(parts));
  }

  /**
   * Writes `bytes` one byte per write, a timer tick apart, so that the app reads them in pieces. The
   * time this takes (about 1 ms a byte) is added to the deadline: it is ours, not the app's.
   */
  async sendByteByByte(bytes: Uint8Array): Promise<void> {
    const started = performance.now();
    for (let i = 0; i < bytes.length && !this.socket.destroyed; i++) {
      this.socket.write(bytes.subarray(i, i + 1));
      await sleep(0);
    }
    this.deadline += performance.now() - started;
  }

  /**
   * Waits until `done(reply)` holds, the app closes the connection, its bytes break the protocol, or
   * the deadline passes (or `within` ms, if sooner); says which.
   */
  async until(done: (reply: Reply) => boolean, within = Infinity): Promise<'done' | 'closed' | 'timeout'> {
    const deadline = Math.min(this.deadline, performance.now() + within);
    for (;;) {
      if (done(this.reply)) return 'done';
      if (this.reply.closed || this.reply.error) return 'closed';
      const left = deadline - performance.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** END_REQUESTs seen for `requestId`. */
  endsOf(requestId: number): EndSeen[] {
    return this.reply.ends.filter((e) => e.requestId === requestId);
  }

  close(): void {
    this.socket.destroy();
    this.decoder.dispose();
  }

  private poke(): void {
    this.wake?.();
  }

  private receive(chunk: Uint8Array): void {
    this.reply.bytes += chunk.length;
    if (this.kept < KEEP_BYTES) {
      const part = chunk.subarray(0, KEEP_BYTES - this.kept);
      this.reply.head.push(part.slice());
      this.kept += part.length;
    }
    if (!this.reply.error) {
      try {
        this.decoder.push(chunk);
      } catch (e) {
        if (!(e instanceof FastCGIProtocolError)) throw e;
        this.reply.error = e;
      }
    }
    this.poke();
  }

  private streamsOf(requestId: number): Streams {
    let s = this.streams.get(requestId);
    if (!s) this.streams.set(requestId, (s = { parser: new CgiResponseParser(), stdoutBytes: 0, stdoutEnded: false, stderrBytes: 0, stderrEnded: false }));
    return s;
  }

  private record(type: number, requestId: number, content: Uint8Array, paddingLength: number): void {
    keep(this.reply.records, { type, requestId, contentLength: content.length, paddingLength });
    if (type === RecordType.STDOUT) {
      const s = this.streamsOf(requestId);
      if (content.length === 0) s.stdoutEnded = true;
      s.stdoutBytes += content.length;
      if (s.status === undefined && content.length > 0) {
        try {
          s.status = s.parser.push(content)?.head?.status;
        } catch (e) {
          if (!(e instanceof FastCGIError)) throw e;
          s.status = -1; // a head no gateway could pass on
        }
      }
    } else if (type === RecordType.STDERR) {
      const s = this.streamsOf(requestId);
      if (content.length === 0) s.stderrEnded = true;
      s.stderrBytes += content.length;
    } else if (type === RecordType.END_REQUEST) {
      this.lastEndBody = content;
    }
  }

  private end(requestId: number, appStatus: number, protocolStatus: number): void {
    const s = this.streamsOf(requestId);
    // the Encoder writes the body a spec-following app writes; the same bytes mean reserved bytes are zero
    const canonical = this.encoder.endRequest(requestId, appStatus, protocolStatus).subarray(8);
    const body = this.lastEndBody;
    keep(this.reply.ends, {
      requestId, appStatus, protocolStatus,
      canonical: body !== null && body.every((b, i) => b === canonical[i]),
      ...(s.status !== undefined ? { status: s.status } : {}),
      stdoutBytes: s.stdoutBytes, stdoutEnded: s.stdoutEnded, stderrBytes: s.stderrBytes, stderrEnded: s.stderrEnded,
    });
    // the id is free again (spec 3.3): a later request on it starts its streams afresh
    this.streams.delete(requestId);
  }
}
