// `fcgi conform --listen`: the app side of the conformance tester. It answers every request a web
// server sends with a text account of how that request was framed, and prints the same account. The
// codec's Decoder drives the answers; the inspector's analyzer (src/inspect) reads both directions of
// each connection beside it and contributes its findings (ONE_BYTE_LONG_LENGTH, PAIR_SPLIT,
// MISSING_TERMINATOR...), so what it flags in a capture it flags here.

import { createServer, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { Decoder } from '../../codec/decoder.js';
import { Encoder } from '../../codec/encoder.js';
import { FastCGIProtocolError } from '../../codec/errors.js';
import { Flags, RecordType, Role, Values } from '../../codec/constants.js';
import { ConversationAnalyzer } from '../../inspect/conversation.js';
import type { Conversation, Finding } from '../../inspect/types.js';
import { UsageError } from '../args.js';
import { ListenTally, newStream, observedText, streamRecord, summaryText, type Observed } from './listen-report.js';

/** How long an answer waits after an unsolicited management record, for the web server to react. */
const REACTION_WAIT = 200;
/** How long a fcgi-conform=slow request takes, unless aborted. */
const SLOW_MS = 10_000;
/** An unknown management record type the app names in its unsolicited FCGI_UNKNOWN_TYPE. */
const NAMED_TYPE = 12;
/** Findings kept per request (a web server sending stray records would make one per record). */
const FINDINGS_KEPT = 64;

const keep = (list: Finding[], f: Finding): void => {
  if (list.length < FINDINGS_KEPT) list.push(f);
};

export interface ListenOptions {
  /** Exit after this many requests (0: run until a signal). */
  requests: number;
  json: boolean;
}

interface Sink {
  done(o: Observed): void;
  note(text: string): void;
}

/** A request being served: what was observed, and where its answer stands. */
interface Serving {
  o: Observed;
  answered: boolean;
  timer?: ReturnType<typeof setTimeout>;
  /** Waiting to see what the web server does with an unsolicited management record. */
  reacting?: boolean;
}

class ListenConnection {
  private readonly encoder = new Encoder();
  private readonly decoder: Decoder;
  private readonly analyzer: ConversationAnalyzer;
  private readonly open = new Map<number, Serving>();
  private begun = 0;
  /** Findings waiting for their request to begin (see finding()). */
  private pending: Finding[] = [];
  private broken = false;
  private closed = false;

  constructor(private readonly socket: Socket, private readonly number: number, private readonly sink: Sink) {
    const conversation = { id: number, exchanges: [], records: [], management: [], bytesToApp: 0, bytesFromApp: 0, closed: false };
    // the analyzer lists what it saw in the conversation, for a capture's report; a kept connection
    // may carry requests without end, so each list is let go once a request is complete
    const forget = (c: Conversation): void => {
      c.exchanges.length = 0;
      c.management.length = 0;
    };
    this.analyzer = new ConversationAnalyzer(conversation, { previewBytes: 0, keepRecords: false, finding: (f) => this.finding(f), exchange: forget, counted: () => {} });
    this.decoder = new Decoder({
      begin: (id, role, flags) => this.begin(id, role, flags),
      record: (type, id, content, padding) => this.record(type, id, content.length, padding),
      pairs: (type, id, pairs, continues) => {
        const s = this.open.get(id);
        if (type === RecordType.PARAMS && s) {
          s.o.pairs.push(...pairs.toArray());
          if (continues) s.o.pairSplit = true;
        } else if (type === RecordType.GET_VALUES) {
          const asked = pairs.toArray().map(([n]) => n);
          this.sink.note(`connection ${this.number}: FCGI_GET_VALUES for ${asked.join(', ') || 'nothing'}`);
          const known: Record<string, string> = { [Values.MAX_CONNS]: '100', [Values.MAX_REQS]: '100', [Values.MPXS_CONNS]: '1' };
          this.write([this.encoder.getValuesResult(asked.filter((n) => n in known).map((n) => [n, known[n]!]))]);
        }
      },
    });
    socket.on('data', (chunk: Uint8Array) => this.receive(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.close());
  }

  private receive(chunk: Uint8Array): void {
    if (this.broken) return;
    // the analyzer first: its findings explain a decode error the Decoder is about to raise
    this.analyzer.push('to-app', chunk);
    try {
      this.decoder.push(chunk);
    } catch (e) {
      if (!(e instanceof FastCGIProtocolError)) throw e;
      this.broken = true;
      for (const s of this.open.values()) {
        s.o.findings.push(...this.pending);
        s.o.error = e.message;
        this.respond(s);
      }
      this.socket.end();
    }
  }

  /**
   * A finding of the analyzer, which reads each chunk before the Decoder that drives the answers: one
   * about a request that has not begun there yet waits for its begin(); one about no request in
   * particular goes to every open request (or the next one to begin). The analyzer reads our answers
   * too (to pair requests with their ends); what it finds in those is not the web server's doing.
   */
  private finding(f: Finding): void {
    if (f.direction === 'from-app') return;
    const s = f.requestId !== undefined ? this.open.get(f.requestId) : undefined;
    if (s) keep(s.o.findings, f);
    else if (f.requestId === undefined && this.open.size > 0) for (const other of this.open.values()) keep(other.o.findings, f);
    else keep(this.pending, f);
  }

  private write(parts: Uint8Array[]): void {
    if (this.socket.destroyed) return;
    for (const p of parts) {
      this.analyzer.push('from-app', p);
      this.socket.write(p);
    }
  }

  private begin(requestId: number, role: number, flags: number): void {
    const o: Observed = {
      connection: this.number, nth: ++this.begun, requestId, role, flags, keepConn: (flags & Flags.KEEP_CONN) !== 0, concurrent: this.open.size + 1,
      params: newStream(), pairSplit: false, pairs: [], stdin: newStream(), data: newStream(),
      records: 1, paddingCanonical: true, paddingNone: true, aborted: null, findings: this.pending.filter((f) => f.requestId === undefined || f.requestId === requestId),
    };
    this.pending = this.pending.filter((f) => !o.findings.includes(f));
    this.open.set(requestId, { o, answered: false });
  }

  private record(type: number, requestId: number, length: number, padding: number): void {
    if (requestId === 0) {
      if (type > RecordType.UNKNOWN_TYPE || type < RecordType.BEGIN_REQUEST) {
        this.sink.note(`connection ${this.number}: a management record of unknown type ${type}; answered FCGI_UNKNOWN_TYPE`);
        this.write([this.encoder.unknownType(type)]);
      }
      return;
    }
    const s = this.open.get(requestId);
    if (!s) return; // an inactive id: ignored (spec 3.3); the analyzer reports it
    const o = s.o;
    o.records++;
    if (padding !== 0) o.paddingNone = false;
    if (padding !== ((8 - (length & 7)) & 7)) o.paddingCanonical = false;
    if (type === RecordType.PARAMS) streamRecord(o.params, length);
    else if (type === RecordType.STDIN) {
      streamRecord(o.stdin, length);
      if (length === 0 && o.role !== Role.FILTER) this.answer(s);
    } else if (type === RecordType.DATA) {
      streamRecord(o.data, length);
      if (length === 0 && o.stdin.ended) this.answer(s);
    } else if (type === RecordType.ABORT_REQUEST) {
      o.aborted = 'ABORT_REQUEST';
      clearTimeout(s.timer);
      this.finish(s, []); // spec 5.4: END_REQUEST answers the abort
    }
  }

  /** The request's input is complete: answer it, after its fcgi-conform= ritual if the query asks one. */
  private answer(s: Serving): void {
    if (s.timer || s.answered) return;
    const query = new URLSearchParams(s.o.pairs.find(([n]) => n === 'QUERY_STRING')?.[1] ?? '');
    const mode = query.get('fcgi-conform');
    if (mode === 'slow') {
      s.timer = setTimeout(() => this.respond(s), SLOW_MS);
      return;
    }
    if (mode !== 'unknown-type' && mode !== 'values-result') return this.respond(s);
    const name = mode === 'unknown-type' ? 'FCGI_UNKNOWN_TYPE' : 'FCGI_GET_VALUES_RESULT';
    this.write([mode === 'unknown-type' ? this.encoder.unknownType(NAMED_TYPE) : this.encoder.getValuesResult({ [Values.MPXS_CONNS]: '1' })]);
    s.reacting = true;
    s.timer = setTimeout(() => {
      s.o.reaction = this.closed ? `an unsolicited ${name}: the web server closed the connection within ${REACTION_WAIT} ms` : `an unsolicited ${name}: the web server went on reading the answer`;
      this.respond(s);
    }, REACTION_WAIT);
  }

  /** Answers with the account of the request (status 200, text/plain). */
  private respond(s: Serving): void {
    const text = `${observedText(s.o, true)}\n`;
    this.finish(s, [new TextEncoder().encode(`Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}`)]);
  }

  private finish(s: Serving, stdout: Uint8Array[]): void {
    if (s.answered) return;
    s.answered = true;
    const id = s.o.requestId;
    const body = stdout.length ? stdout[0]! : new Uint8Array(0);
    this.write(this.encoder.endOfRequest(id, 0, 0, body));
    this.open.delete(id);
    this.sink.done(s.o);
    if (!s.o.keepConn && this.open.size === 0) this.socket.end(); // spec 5.1: without KEEP_CONN the app closes
  }

  private close(): void {
    this.closed = true;
    for (const s of this.open.values()) {
      if (s.answered || s.reacting) continue; // a reaction's timer reports that the connection closed
      clearTimeout(s.timer);
      s.o.aborted ??= 'closed';
      s.answered = true;
      this.sink.done(s.o);
    }
    this.decoder.dispose();
  }
}

/** [HOST:]PORT, [v6]:PORT or a socket path, as node:net's listen() takes it. */
function listenTarget(address: string): { port: number; host: string } | { path: string } {
  if (address.startsWith('/') || address.startsWith('.')) return { path: address };
  const m = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d+)$/.exec(address);
  if (!m) throw new UsageError(`--listen takes [HOST:]PORT, [v6]:PORT or a socket path, got ${JSON.stringify(address)}`);
  return { port: Number(m[3]), host: m[1] ?? m[2] ?? '127.0.0.1' };
}

export function listen(address: string, options: ListenOptions): Promise<number> {
  const target = listenTarget(address);
  const tally = new ListenTally();
  let connections = 0;
  return new Promise((resolve, reject) => {
    const stop = (): void => {
      server.close();
      for (const socket of sockets) socket.destroy();
      if ('path' in target) rmSync(target.path, { force: true });
      const summary = tally.summary();
      console.log(options.json ? JSON.stringify({ summary }) : `\n${summaryText(address, summary)}`);
      process.off('SIGINT', stop).off('SIGTERM', stop);
      resolve(0);
    };
    const sink: Sink = {
      done(o) {
        tally.add(o);
        console.log(options.json ? JSON.stringify({ request: o }) : `${observedText(o, false)}\n`);
        if (options.requests > 0 && tally.requests === options.requests) setImmediate(stop);
      },
      note(text) {
        console.log(options.json ? JSON.stringify({ note: text }) : text);
      },
    };
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      new ListenConnection(socket, ++connections, sink);
    });
    server.once('error', reject);
    server.listen(target, () => {
      const where = server.address();
      process.stderr.write(`fcgi conform: listening on ${typeof where === 'string' ? where : `${where?.address}:${where?.port}`}\n`);
    });
    process.once('SIGINT', stop).once('SIGTERM', stop);
  });
}
