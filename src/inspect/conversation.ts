// One FastCGI connection (or one raw byte stream) analysed: the codec's Decoder reads the records of
// each direction; this file pairs them into exchanges (BEGIN_REQUEST .. END_REQUEST per request id) and
// reports what breaks the protocol or trips real peers (findings.ts).

import { Decoder, type DecoderHandler } from '../codec/decoder.js';
import { FastCGIError, FastCGIProtocolError } from '../codec/errors.js';
import { Fragment, RecordType, Role, ProtocolStatus, Flags, recordTypeName } from '../codec/constants.js';
import type { PairList } from '../codec/pairs.js';
import { CgiResponseParser } from '../protocol/cgi-response.js';
import { FindingCodes, type FindingCode } from './findings.js';
import { emptyPreview, emptyStream, extendPreview } from './preview.js';
import type { Conversation, Direction, Exchange, Finding, RecordInfo, ResponseInfo, Severity } from './types.js';

export interface AnalyzerContext {
  previewBytes: number;
  keepRecords: boolean;
  /** Every finding (the analyzer also files it under its exchange). */
  finding(f: Finding): void;
  exchange(conversation: Conversation, exchange: Exchange): void;
  /** Counts records and requests across the whole input. */
  counted(records: number, requests: number): void;
}

const TO_APP = new Set<number>([RecordType.BEGIN_REQUEST, RecordType.ABORT_REQUEST, RecordType.PARAMS, RecordType.STDIN, RecordType.DATA, RecordType.GET_VALUES]);
const FROM_APP = new Set<number>([RecordType.END_REQUEST, RecordType.STDOUT, RecordType.STDERR, RecordType.GET_VALUES_RESULT, RecordType.UNKNOWN_TYPE]);
const BODY_CALLBACK = new Set<number>([RecordType.BEGIN_REQUEST, RecordType.END_REQUEST, RecordType.GET_VALUES, RecordType.GET_VALUES_RESULT, RecordType.UNKNOWN_TYPE]);
const STDERR_PREVIEW_MIN = 4096;
const CGI_PIECE = 4096;
const ROLE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Role).map(([name, n]) => [n, name]));

/** What the analyzer holds per open request besides the Exchange it reports. */
interface Open {
  ex: Exchange;
  cgi: CgiResponseParser;
  stdoutEnded: boolean;
  stderrEnded: boolean;
}

/** Where a chunk of one direction began, for the time and frame of the records in it. */
interface ChunkMark {
  start: number;
  time: number | undefined;
  frame: number | undefined;
}

const MARKS_KEPT = 4096;

/** One direction's decoder (or, for a raw stream of unknown direction, the only one). */
class StreamSide {
  readonly decoder: Decoder;
  broken = false;
  ended = false;
  private readonly marks: ChunkMark[] = [];
  constructor(decoder: Decoder) {
    this.decoder = decoder;
  }
  mark(time: number | undefined, frame: number | undefined): void {
    if (this.marks.length >= MARKS_KEPT) this.marks.splice(0, MARKS_KEPT >> 1);
    this.marks.push({ start: this.decoder.offset, time, frame });
  }
  /** The chunk that held stream offset `at`. */
  at(at: number): ChunkMark | undefined {
    const m = this.marks;
    for (let i = m.length - 1; i >= 0; i--) if (m[i]!.start <= at) return m[i];
    return m[0];
  }
}

export class ConversationAnalyzer {
  readonly conversation: Conversation;
  private readonly ctx: AnalyzerContext;
  private readonly sides: { 'to-app': StreamSide; 'from-app': StreamSide } | null;
  private readonly mixed: StreamSide | null;
  private readonly open = new Map<number, Open>();
  /**
   * Requests the app ended (END_REQUEST) while their to-app streams were still open: the web server may
   * go on sending STDIN (an app may answer early, and a capture may show the reply first). Their late
   * to-app records still belong to them, until the id begins again or the conversation ends.
   */
  private readonly ended = new Map<number, Open>();
  /** The record being handled (set by record(), read by the body callbacks that follow it). */
  private recordOffset = 0;
  private recordDirection: Direction = 'to-app';
  private recordTime: number | undefined;
  private recordFrame: number | undefined;
  private finished = false;

  /** Request ids seen to begin (a conversation captured from its middle has records of others). */
  private readonly begun = new Set<number>();
  private readonly midstream: boolean;

  /**
   * `mixed`: one byte stream holding both directions (raw input): a record's type says its direction.
   * `midstream`: the capture began inside the connection: records of requests begun before it are no
   * protocol error.
   */
  constructor(conversation: Conversation, ctx: AnalyzerContext, mixed = false, midstream = false) {
    this.conversation = conversation;
    this.ctx = ctx;
    this.midstream = midstream;
    if (mixed) {
      this.sides = null;
      this.mixed = new StreamSide(new Decoder(this.handler(null)));
    } else {
      this.mixed = null;
      this.sides = {
        'to-app': new StreamSide(new Decoder(this.handler('to-app'))),
        'from-app': new StreamSide(new Decoder(this.handler('from-app'))),
      };
    }
  }

  /** Bytes of one direction (null for a mixed raw stream), with the capture time and frame they came in. */
  push(direction: Direction | null, bytes: Uint8Array, time?: number, frame?: number): void {
    const side = direction === null ? this.mixed! : this.sides![direction];
    const c = this.conversation;
    // a mixed stream counts its bytes per record, once their direction is known (onRecord)
    if (direction === 'from-app') c.bytesFromApp += bytes.length;
    else if (direction === 'to-app') c.bytesToApp += bytes.length;
    if (time !== undefined) {
      c.firstTime ??= time;
      c.lastTime = time;
    }
    if (side.broken || side.ended) return;
    side.mark(time, frame);
    const start = side.decoder.offset;
    try {
      side.decoder.push(bytes);
    } catch (e) {
      if (!(e instanceof FastCGIProtocolError)) throw e;
      side.broken = true;
      this.protocolError(e, direction ?? this.recordDirection, side, bytes, start);
    }
  }

  /** Bytes the capture lost at stream offset `at`: this direction cannot be decoded further. */
  gap(direction: Direction, at: number, missing: number): void {
    const side = this.sides?.[direction];
    if (!side || side.broken || side.ended) return;
    side.broken = true;
    this.report('TCP_GAP', `${missing} bytes of this direction are missing from the capture (segments never captured); decoding stops here`, at, direction);
  }

  /** End of one direction (FIN) or, with no argument, of the whole conversation. */
  end(direction?: Direction, reason: 'closed' | 'eof' = 'eof'): void {
    if (direction !== undefined) {
      const side = this.sides?.[direction];
      if (side) this.endSide(side, direction, reason);
      return;
    }
    if (this.finished) return;
    this.finished = true;
    if (reason === 'closed') this.conversation.closed = true;
    if (this.mixed) this.endSide(this.mixed, 'to-app', reason);
    else {
      this.endSide(this.sides!['to-app'], 'to-app', reason);
      this.endSide(this.sides!['from-app'], 'from-app', reason);
    }
    // after a protocol error or a gap, what never came is a consequence already explained
    const broken = this.mixed ? this.mixed.broken : this.sides!['to-app'].broken || this.sides!['from-app'].broken;
    for (const o of this.ended.values()) if (!broken) this.checkStreams(o, o.ex.offset);
    this.ended.clear();
    for (const [id, o] of this.open) {
      if (broken) {
        this.complete(o);
        continue;
      }
      this.checkStreams(o, o.ex.offset);
      const closed = this.conversation.closed;
      this.report('MISSING_END_REQUEST', closed ? `request ${id} never got END_REQUEST: the connection closed first` : `request ${id} has no END_REQUEST before the capture ended`, o.ex.offset, 'to-app', o.ex, closed ? 'error' : 'warning');
      this.complete(o);
    }
    this.open.clear();
  }

  private endSide(side: StreamSide, direction: Direction, reason: 'closed' | 'eof'): void {
    if (side.ended) return;
    side.ended = true;
    if (side.broken) return;
    try {
      side.decoder.end();
    } catch (e) {
      if (!(e instanceof FastCGIProtocolError)) throw e;
      side.broken = true;
      const how = reason === 'closed' ? 'the connection closed inside a record' : 'the input ended inside a record';
      this.report(e.code as FindingCode, `${e.code}: ${how}`, e.offset, direction, undefined, reason === 'closed' ? 'error' : 'warning', side);
    }
  }

  private handler(fixed: Direction | null): DecoderHandler {
    // a record's fragments (views of the pushed bytes, never copied) are looked at once it is complete
    let parts: Uint8Array[] = [];
    let recordAt = 0;
    return {
      fragment: (type, requestId, bytes, flags, offset) => {
        if ((flags & Fragment.START) !== 0) {
          parts = [];
          recordAt = offset - 8;
        }
        if (bytes.length > 0) parts.push(bytes);
        if ((flags & Fragment.END) === 0) return;
        const direction = fixed ?? (FROM_APP.has(type) ? 'from-app' : 'to-app');
        this.onRecord(fixed === null ? this.mixed! : this.sides![direction], direction, type, requestId, parts, (flags >>> 8) & 0xff, recordAt, fixed !== null);
      },
      pairs: (type, requestId, list, continues) => this.onPairs(type, requestId, list, continues),
      begin: (requestId, role, flags) => this.onBegin(requestId, role, flags),
      end: (requestId, appStatus, protocolStatus) => this.onEnd(requestId, appStatus, protocolStatus),
      unknownType: (type) => {
        this.conversation.management.push({ direction: this.recordDirection, type: RecordType.UNKNOWN_TYPE, typeName: 'UNKNOWN_TYPE', offset: this.recordOffset, unknownType: type, ...this.when() });
      },
    };
  }

  private when(): { time?: number; frame?: number } {
    const w: { time?: number; frame?: number } = {};
    if (this.recordTime !== undefined) w.time = this.recordTime;
    if (this.recordFrame !== undefined) w.frame = this.recordFrame;
    return w;
  }

  /** A complete record, its content as the fragments it came in. */
  private onRecord(side: StreamSide, direction: Direction, type: number, id: number, content: Uint8Array[], paddingLength: number, offset: number, checkDirection: boolean): void {
    let contentLength = 0;
    for (const part of content) contentLength += part.length;
    const mark = side.at(offset);
    this.recordOffset = offset;
    this.recordDirection = direction;
    this.recordTime = mark?.time;
    this.recordFrame = mark?.frame;
    this.ctx.counted(1, 0);
    if (this.mixed) {
      if (direction === 'to-app') this.conversation.bytesToApp += 8 + contentLength + paddingLength;
      else this.conversation.bytesFromApp += 8 + contentLength + paddingLength;
    }
    if (this.ctx.keepRecords) {
      const info: RecordInfo = { offset, direction, type, typeName: recordTypeName(type), requestId: id, contentLength, paddingLength };
      if (this.recordTime !== undefined) info.time = this.recordTime;
      if (this.recordFrame !== undefined) info.frame = this.recordFrame;
      this.conversation.records.push(info);
    }
    if (type < RecordType.BEGIN_REQUEST || type > RecordType.UNKNOWN_TYPE) {
      this.report('UNKNOWN_RECORD_TYPE', `record type ${type} is not defined by FastCGI 1.0 (an app answers it with UNKNOWN_TYPE)`, offset, direction);
      return;
    }
    if (checkDirection && !(direction === 'to-app' ? TO_APP : FROM_APP).has(type)) {
      this.report('WRONG_DIRECTION', `${recordTypeName(type)} sent ${direction === 'to-app' ? 'to the app' : 'by the app'}: only the ${direction === 'to-app' ? 'app' : 'web server'} sends it`, offset, direction);
      return;
    }
    if (BODY_CALLBACK.has(type)) return; // begin(), end(), pairs() or unknownType() follows
    const o = this.open.get(id) ?? (direction === 'to-app' ? this.ended.get(id) : undefined);
    if (!o) {
      if (this.midstream && !this.begun.has(id)) return; // begun before the capture
      this.report('INACTIVE_REQUEST_ID', `${recordTypeName(type)} for request ${id}, which has no active request${id === 0 ? ' (0 is the management id)' : ''}`, offset, direction, undefined, undefined, undefined, id);
      return;
    }
    const ex = o.ex;
    const limit = this.ctx.previewBytes;
    switch (type) {
      case RecordType.PARAMS:
        if (ex.paramsComplete) this.report('AFTER_STREAM_END', `PARAMS for request ${id} after its empty PARAMS record ended the stream`, offset, direction, ex);
        else if (contentLength === 0) ex.paramsComplete = true;
        break;
      case RecordType.STDIN:
      case RecordType.DATA: {
        const stream = type === RecordType.STDIN ? ex.stdin : (ex.data ??= emptyStream());
        const name = recordTypeName(type);
        if (!ex.paramsComplete && stream.bytes === 0 && !stream.complete) {
          this.report('MISSING_TERMINATOR', `${name} for request ${id} before the empty PARAMS record that ends its params`, offset, direction, ex);
          ex.paramsComplete = true; // reported once
        }
        if (stream.complete) this.report('AFTER_STREAM_END', `${name} for request ${id} after its empty ${name} record ended the stream`, offset, direction, ex);
        else if (contentLength === 0) stream.complete = true;
        else for (const part of content) extendPreview(stream, part, limit);
        break;
      }
      case RecordType.ABORT_REQUEST:
        ex.aborted = true;
        break;
      case RecordType.STDOUT:
      case RecordType.STDERR: {
        const r = this.response(o);
        ex.times.firstResponse ??= this.recordTime;
        if (ex.times.firstResponse === undefined) delete ex.times.firstResponse;
        const isOut = type === RecordType.STDOUT;
        if (isOut ? o.stdoutEnded : o.stderrEnded) {
          this.report('AFTER_STREAM_END', `${recordTypeName(type)} for request ${id} after its empty record ended the stream`, offset, direction, ex);
          break;
        }
        if (contentLength === 0) {
          if (isOut) o.stdoutEnded = true;
          else o.stderrEnded = true;
          break;
        }
        if (!isOut) {
          for (const part of content) extendPreview(r.stderr, part, Math.max(limit, STDERR_PREVIEW_MIN));
          break;
        }
        r.stdoutBytes += contentLength;
        try {
          for (const part of content) this.stdout(r, o.cgi, part, limit);
        } catch (e) {
          if (!(e instanceof FastCGIError)) throw e;
          // the head cannot be read: count the rest as body, as a gateway would fail it
          r.headersComplete = true;
          this.report('BAD_CGI_RESPONSE', `${e.code}: ${e.message}`, offset, direction, ex);
        }
        break;
      }
    }
  }

  /**
   * STDOUT bytes: the CGI head is looked for in copies of at most CGI_PIECE bytes (the parser keeps
   * what it is given until the head ends, and a view would keep the capture's whole read buffer);
   * what follows the head is only counted and previewed.
   */
  private stdout(r: ResponseInfo, cgi: CgiResponseParser, bytes: Uint8Array, limit: number): void {
    let rest = bytes;
    while (!r.headersComplete && rest.length > 0) {
      const piece = rest.subarray(0, CGI_PIECE);
      rest = rest.subarray(piece.length);
      const got = cgi.push(piece.slice());
      if (got) {
        const head = got.head!;
        r.headersComplete = true;
        r.status = head.status;
        r.statusText = head.statusText;
        r.headers = head.headers;
        extendPreview(r.body, got.body, limit);
      }
    }
    if (rest.length > 0) extendPreview(r.body, rest, limit);
  }

  private response(o: Open): ResponseInfo {
    return (o.ex.response ??= { headers: [], headersComplete: false, body: emptyPreview(), stdoutBytes: 0, stderr: emptyPreview() });
  }

  private onPairs(type: number, id: number, list: PairList, continues: boolean): void {
    if (type === RecordType.PARAMS) {
      const o = this.open.get(id) ?? this.ended.get(id);
      if (!o) return; // reported by onRecord
      for (let i = 0; i < list.length; i++) o.ex.params.push([list.name(i), list.value(i)]);
      if (continues) {
        this.report('PAIR_SPLIT', `a name-value pair of request ${id} runs on from this PARAMS record into the next one: legal, but php-fpm rejects it (php issue #16042)`, this.recordOffset, 'to-app', o.ex);
      }
      return;
    }
    if (this.recordDirection === (type === RecordType.GET_VALUES ? 'to-app' : 'from-app') || this.mixed) {
      this.conversation.management.push({ direction: this.recordDirection, type, typeName: recordTypeName(type), offset: this.recordOffset, pairs: list.toArray(), ...this.when() });
    }
  }

  private onBegin(id: number, role: number, flags: number): void {
    const done = this.ended.get(id);
    if (done) {
      this.ended.delete(id);
      this.checkStreams(done, this.recordOffset);
    }
    const old = this.open.get(id);
    if (old) {
      this.report('BEGIN_FOR_ACTIVE_ID', `BEGIN_REQUEST for request ${id}, which is still active (its request began at offset ${old.ex.offset})`, this.recordOffset, 'to-app', old.ex);
      this.complete(old);
    }
    const ex: Exchange = {
      conversation: this.conversation.id,
      requestId: id,
      role,
      roleName: ROLE_NAMES[role] ?? `role ${role}`,
      flags,
      keepConn: (flags & Flags.KEEP_CONN) !== 0,
      params: [],
      paramsComplete: false,
      stdin: emptyStream(),
      aborted: false,
      times: {},
      offset: this.recordOffset,
      findings: [],
    };
    if (this.recordTime !== undefined) ex.times.begin = this.recordTime;
    this.conversation.exchanges.push(ex);
    this.begun.add(id);
    this.open.set(id, { ex, cgi: new CgiResponseParser(), stdoutEnded: false, stderrEnded: false });
    this.ctx.counted(0, 1);
  }

  private onEnd(id: number, appStatus: number, protocolStatus: number): void {
    const o = this.open.get(id);
    if (!o) {
      if (this.midstream && !this.begun.has(id)) return;
      this.report('INACTIVE_REQUEST_ID', `END_REQUEST for request ${id}, which has no active request`, this.recordOffset, 'from-app', undefined, undefined, undefined, id);
      return;
    }
    const ex = o.ex;
    const r = this.response(o);
    r.appStatus = appStatus;
    r.protocolStatus = protocolStatus;
    if (this.recordTime !== undefined) ex.times.end = this.recordTime;
    if (protocolStatus === ProtocolStatus.REQUEST_COMPLETE) {
      if (!r.headersComplete) {
        this.report('INCOMPLETE_CGI_HEADERS', `incomplete CGI headers: request ${id} ended after ${r.stdoutBytes} STDOUT bytes with no empty line ending the headers (a gateway answers 502)`, this.recordOffset, 'from-app', ex);
      }
      if (!o.stdoutEnded && r.stdoutBytes > 0) {
        this.report('END_BEFORE_STDOUT_END', `END_REQUEST for request ${id} before the empty STDOUT record that ends the stream (php-fpm does this; a client must finish at END_REQUEST)`, this.recordOffset, 'from-app', ex);
      }
    }
    this.open.delete(id);
    if (this.streamsOpen(ex).length > 0 && !ex.aborted) this.ended.set(id, o);
    this.complete(o);
  }

  /** The to-app streams of a finished request must have been closed by their empty records. */
  private checkStreams(o: Open, offset: number): void {
    const ex = o.ex;
    if (ex.aborted) return;
    const open = this.streamsOpen(ex);
    if (open.length > 0) {
      this.report('MISSING_TERMINATOR', `request ${ex.requestId} ended with ${open.join(' and ')} never closed by an empty record`, offset, 'to-app', ex);
    }
  }

  private streamsOpen(ex: Exchange): string[] {
    const open: string[] = [];
    if (!ex.paramsComplete) open.push('PARAMS');
    if (!ex.stdin.complete && ex.role !== Role.AUTHORIZER) open.push('STDIN');
    if (ex.role === Role.FILTER && !ex.data?.complete) open.push('DATA');
    return open;
  }

  private complete(o: Open): void {
    this.ctx.exchange(this.conversation, o.ex);
  }

  private protocolError(e: FastCGIProtocolError, direction: Direction, side: StreamSide, chunk: Uint8Array, chunkStart: number): void {
    const trap = (e.code === 'PAIR_TOO_LONG' || e.code === 'NV_TRUNCATED') ? oneByteLongLength(chunk, e.offset - chunkStart) : null;
    if (trap !== null) {
      this.report('ONE_BYTE_LONG_LENGTH', `a ${trap}-byte name written with a one-byte length (0x${trap.toString(16)}): a length over 127 needs the 4-byte form (nginx 1.22 does this with a long fastcgi_param name); the codec read it as ${e.code}`, e.offset, direction, undefined, undefined, side);
      return;
    }
    this.report(e.code as FindingCode, e.message, e.offset, direction, undefined, 'error', side);
  }

  private report(code: FindingCode, message: string, offset: number, direction: Direction, ex?: Exchange, severity?: Severity, side?: StreamSide, requestId?: number): void {
    const f: Finding = { code, severity: severity ?? FindingCodes[code] ?? 'error', message, offset, direction, conversation: this.conversation.id };
    const rid = ex?.requestId ?? requestId;
    if (rid !== undefined) f.requestId = rid;
    const mark = side ? side.at(offset) : undefined;
    const frame = mark ? mark.frame : this.recordFrame;
    if (frame !== undefined) f.frame = frame;
    ex?.findings.push(f);
    this.ctx.finding(f);
  }
}

/**
 * The nginx 1.22 trap: the pair at `at` in `chunk` starts with a byte over 127 that, read as a
 * one-byte name length, is followed by a plausible length and that many name characters. Returns the
 * name length, or null. A diagnosis of bytes the codec already refused, not a second decoder.
 */
function oneByteLongLength(chunk: Uint8Array, at: number): number | null {
  if (at < 0 || at + 2 > chunk.length) return null;
  const n = chunk[at]!;
  if (n < 0x80) return null;
  const head = chunk[at + 1]! < 0x80 ? 2 : 5;
  const name = chunk.subarray(at + head, at + head + n);
  if (name.length < Math.min(n, 16)) return null;
  for (const b of name) if (b < 0x21 || b > 0x7e || b === 0x3d) return null;
  return n;
}
