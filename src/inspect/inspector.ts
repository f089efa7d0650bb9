// The inspector: input bytes (pushed in pieces of any size) -> conversations, exchanges, records and
// findings. Captures go packet -> TCP segment -> reassembled stream per direction -> the codec's
// Decoder; a connection is FastCGI when its first bytes are a FastCGI record, and the side that sends
// BEGIN_REQUEST (or GET_VALUES) is the web server, whatever the ports.

import { RecordType } from '../codec/constants.js';
import { concatBytes } from '../codec/bytes.js';
import { CaptureReader, looksLikeCapture } from './capture.js';
import { ConversationAnalyzer, type AnalyzerContext } from './conversation.js';
import { FindingCodes, InspectInputError } from './findings.js';
import { parseHexDump } from './hex.js';
import { tcpSegment } from './packet.js';
import { TcpReassembler } from './tcp.js';
import type { Conversation, Direction, Endpoint, Exchange, Finding, InputFormat, InspectReport, InspectorOptions } from './types.js';

const DEFAULT_PREVIEW = 256;
/** Bytes of text input held for hex (a hex dump is parsed whole at end()). */
const MAX_HEX_TEXT = 256 << 20;

/** A TCP connection, before and after we know whether it carries FastCGI. */
interface Link {
  ends: [Endpoint, Endpoint];
  kind: 'unknown' | 'fcgi' | 'other';
  /** Side 0's and side 1's first bytes, until the kind is known. */
  early: [Uint8Array[], Uint8Array[]];
  earlyTimes: [{ time: number | undefined; frame: number }[], { time: number | undefined; frame: number }[]];
  toAppSide: 0 | 1;
  /** FastCGI, but the app's bytes wait until the web server's first bytes came. */
  holding: boolean;
  /** The capture began inside the connection: each side is read from its first plausible record. */
  midstream: boolean;
  /** Each side's start was found (its first whole record). */
  synced: [boolean, boolean];
  /** A side of a FastCGI conversation that could not be read from where the capture began. */
  dropped: [boolean, boolean];
  analyzer: ConversationAnalyzer | null;
}

export class Inspector {
  private readonly options: InspectorOptions;
  private readonly ctx: AnalyzerContext;
  private readonly conversations: Conversation[] = [];
  private readonly findings: Finding[] = [];
  private format: InputFormat | null;
  private readonly head: Uint8Array[] = [];
  private headBytes = 0;
  private bytes = 0;
  private records = 0;
  private requests = 0;
  private otherConnections = 0;
  private capture: CaptureReader | null = null;
  private tcp: TcpReassembler<Link> | null = null;
  private raw: ConversationAnalyzer | null = null;
  private hexText: Uint8Array[] = [];
  private failed = false;
  private ended = false;

  constructor(options: InspectorOptions = {}) {
    this.options = options;
    this.format = options.format && options.format !== 'auto' ? options.format : null;
    const previewBytes = Math.max(0, Math.floor(options.previewBytes ?? DEFAULT_PREVIEW));
    this.ctx = {
      previewBytes,
      keepRecords: options.records ?? true,
      finding: (f) => {
        this.findings.push(f);
        options.onFinding?.(f);
      },
      exchange: (c, e) => options.onExchange?.(c, e),
      counted: (records, requests) => {
        this.records += records;
        this.requests += requests;
      },
    };
  }

  /** Feeds the next piece of input (a string is hex text). */
  push(chunk: Uint8Array | string): void {
    if (this.ended) throw new TypeError('fcgi-wasm: Inspector.push() after end()');
    if (typeof chunk === 'string') {
      this.format ??= 'hex';
      chunk = new TextEncoder().encode(chunk);
    }
    this.bytes += chunk.length;
    if (this.failed || chunk.length === 0) return;
    // a plain view: views cut from a Node Buffer are Buffers, slower to make by the thousand
    if (chunk.constructor !== Uint8Array) chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.format === null) {
      // wait for enough bytes to tell the formats apart
      this.head.push(chunk);
      this.headBytes += chunk.length;
      if (this.headBytes < 16) return;
      const all = this.head.length === 1 ? this.head[0]! : concatBytes(this.head, this.headBytes);
      this.head.length = 0;
      this.format = detectFormat(all);
      chunk = all;
    }
    this.feed(chunk);
  }

  private feed(chunk: Uint8Array): void {
    try {
      switch (this.format) {
        case 'pcap':
        case 'pcapng':
          this.captureReader().push(chunk);
          return;
        case 'hex':
          this.hexText.push(chunk);
          if (this.hexText.reduce((n, c) => n + c.length, 0) > MAX_HEX_TEXT) throw new InspectInputError('BAD_HEX', `hex text longer than ${MAX_HEX_TEXT} bytes`, this.bytes);
          return;
        default:
          (this.raw ??= this.newAnalyzer(undefined, undefined, true)).push(null, chunk);
      }
    } catch (e) {
      if (!(e instanceof InspectInputError)) throw e;
      this.failed = true;
      this.ctx.finding({ code: 'BAD_INPUT', severity: 'error', message: `${e.code}: ${e.message}`, offset: e.offset });
    }
  }

  /** Ends the input: open requests and connections are closed out, and the report is returned. */
  end(): InspectReport {
    if (!this.ended) {
      this.ended = true;
      if (this.format === null) {
        const all = concatBytes(this.head, this.headBytes);
        this.format = detectFormat(all);
        if (all.length > 0) this.feed(all);
      }
      this.finishInput();
    }
    const stats: InspectReport['stats'] = { bytes: this.bytes, records: this.records, requests: this.requests, conversations: this.conversations.length };
    if (this.capture) stats.packets = this.capture.packets;
    if (this.tcp) stats.otherConnections = this.otherConnections;
    return { format: this.capture?.format ?? this.format ?? 'raw', conversations: this.conversations, findings: this.findings, stats };
  }

  private finishInput(): void {
    if (this.format === 'hex' && !this.failed) {
      const text = new TextDecoder('latin1').decode(concatBytes(this.hexText));
      this.hexText = [];
      try {
        this.feedHex(text);
      } catch (e) {
        if (!(e instanceof InspectInputError)) throw e;
        this.ctx.finding({ code: 'BAD_INPUT', severity: 'error', message: `${e.code}: ${e.message}`, offset: e.offset });
      }
    }
    if (this.capture) {
      const left = this.capture.end();
      if (left) {
        this.ctx.finding({ code: 'TRUNCATED_CAPTURE', severity: FindingCodes.TRUNCATED_CAPTURE, message: `the capture file ends inside a block (${left.leftover} bytes left over): the capture was cut short`, offset: left.at });
      }
      this.tcp?.end();
    }
    this.raw?.end(undefined, 'eof');
  }

  /** A two-sided dump (tshark follow) is one conversation with its directions; otherwise one raw stream. */
  private feedHex(text: string): void {
    const dump = parseHexDump(text);
    if (dump.chunks.length === 0) return;
    if (!dump.twoSided) {
      const a = this.newAnalyzer(undefined, undefined, true);
      for (const c of dump.chunks) a.push(null, c.bytes);
      a.end(undefined, 'eof');
      return;
    }
    const link = this.newLink([{ address: 'node 0', port: 0 }, { address: 'node 1', port: 0 }], false);
    for (const c of dump.chunks) this.linkData(link, c.side, c.bytes, undefined, 0);
    this.linkClose(link, 'eof');
  }

  private captureReader(): CaptureReader {
    if (this.capture) return this.capture;
    const tcp = (this.tcp = new TcpReassembler<Link>({
      open: (a, b, midstream) => this.newLink([a, b], midstream),
      data: (link, side, bytes, time, frame) => this.linkData(link, side, bytes, time, frame),
      gap: (link, side, at, missing) => {
        if (link.analyzer) link.analyzer.gap(side === link.toAppSide ? 'to-app' : 'from-app', at, missing);
      },
      fin: (link, side) => link.analyzer?.end(side === link.toAppSide ? 'to-app' : 'from-app', 'closed'),
      close: (link, reason) => this.linkClose(link, reason),
    }));
    this.capture = new CaptureReader((p) => {
      const seg = tcpSegment(p.linkType, p.data);
      if (seg) tcp.segment(seg, p.time, p.frame);
    });
    return this.capture;
  }

  private newLink(ends: [Endpoint, Endpoint], midstream: boolean): Link {
    return { ends, kind: 'unknown', early: [[], []], earlyTimes: [[], []], toAppSide: 0, holding: false, midstream, synced: [false, false], dropped: [false, false], analyzer: null };
  }

  private linkData(link: Link, side: 0 | 1, bytes: Uint8Array, time: number | undefined, frame: number): void {
    if (link.kind === 'other' || link.dropped[side]) return;
    if (link.kind === 'fcgi' && !link.holding && link.synced[side]) {
      link.analyzer!.push(side === link.toAppSide ? 'to-app' : 'from-app', bytes, time, frame);
      return;
    }
    link.early[side].push(bytes);
    link.earlyTimes[side].push({ time, frame });
    if (!link.synced[side]) {
      const got = link.early[side].reduce((n, c) => n + c.length, 0);
      const all = concatBytes(link.early[side], got);
      // one side known to be FastCGI from its start: the other is read from its start too (a bad
      // first record there is the codec's finding to make)
      const start = link.kind === 'fcgi' && !link.midstream ? { at: 0, direction: side === link.toAppSide ? 'to-app' : 'from-app' } as const : streamStart(all, link.midstream);
      if (start === 'wait' && got < MAX_RESYNC) return;
      if (start === 'wait' || start === null) {
        if (link.kind === 'unknown') {
          link.kind = 'other';
          link.early = [[], []];
          link.earlyTimes = [[], []];
          this.otherConnections++;
        } else {
          // a FastCGI conversation whose one side cannot be read from the middle: leave it out
          link.dropped[side] = true;
          link.early[side] = [];
          link.earlyTimes[side] = [];
        }
        return;
      }
      link.synced[side] = true;
      link.early[side] = [all.subarray(start.at)];
      link.earlyTimes[side] = [link.earlyTimes[side].at(-1)!];
      if (link.kind === 'unknown') this.startConversation(link, start.direction === 'to-app' ? side : ((1 - side) as 0 | 1));
      if (start.at > 0) {
        const direction = side === link.toAppSide ? 'to-app' : 'from-app';
        this.ctx.finding({
          code: 'CAPTURE_MIDSTREAM', severity: 'warning', direction, conversation: link.analyzer!.conversation.id, offset: 0, frame,
          message: `the capture began inside this connection: ${start.at} bytes before the first whole record (${direction}) were skipped, and requests begun earlier are left out`,
        });
      }
    }
    // the app's bytes wait for the web server's first ones: a capture may show a reply before its request
    if (!link.synced[link.toAppSide] && !link.dropped[link.toAppSide]) return;
    link.holding = false;
    for (const s of [link.toAppSide, (1 - link.toAppSide) as 0 | 1]) {
      if (!link.synced[s]) continue;
      const chunks = link.early[s];
      for (let i = 0; i < chunks.length; i++) link.analyzer!.push(s === link.toAppSide ? 'to-app' : 'from-app', chunks[i]!, link.earlyTimes[s][i]!.time, link.earlyTimes[s][i]!.frame);
      link.early[s] = [];
      link.earlyTimes[s] = [];
    }
  }

  private startConversation(link: Link, toAppSide: 0 | 1): void {
    link.kind = 'fcgi';
    link.holding = true;
    link.toAppSide = toAppSide;
    const c = this.newConversation();
    if (link.ends[0].port !== 0) {
      c.client = link.ends[toAppSide];
      c.server = link.ends[1 - toAppSide]!;
    }
    link.analyzer = new ConversationAnalyzer(c, this.ctx, false, link.midstream);
  }

  private linkClose(link: Link, reason: 'closed' | 'eof'): void {
    if (link.kind === 'unknown' && (link.early[0].length > 0 || link.early[1].length > 0)) {
      // a connection that sent fewer than 8 bytes: not enough to be FastCGI
      this.otherConnections++;
    }
    if (link.holding && link.synced[1 - link.toAppSide]) {
      // only the app's side was captured
      const app = (1 - link.toAppSide) as 0 | 1;
      link.early[app].forEach((c, i) => link.analyzer!.push('from-app', c, link.earlyTimes[app][i]!.time, link.earlyTimes[app][i]!.frame));
      link.holding = false;
    }
    link.analyzer?.end(undefined, reason);
  }

  private newConversation(): Conversation {
    const c: Conversation = { id: this.conversations.length + 1, exchanges: [], records: [], management: [], bytesToApp: 0, bytesFromApp: 0, closed: false };
    this.conversations.push(c);
    return c;
  }

  private newAnalyzer(_a: undefined, _b: undefined, mixed: boolean): ConversationAnalyzer {
    return new ConversationAnalyzer(this.newConversation(), this.ctx, mixed);
  }
}

/** Bytes of one side searched for a first whole record when a capture began inside a connection. */
const MAX_RESYNC = 256 * 1024;
const TO_APP_TYPES = new Set<number>([RecordType.BEGIN_REQUEST, RecordType.ABORT_REQUEST, RecordType.PARAMS, RecordType.STDIN, RecordType.DATA, RecordType.GET_VALUES]);

/**
 * Where a side's FastCGI stream starts and which way it goes: at 0 when its first header says so; for
 * a capture that began inside the connection, at the first offset where two record headers follow on
 * (version 1, a defined type, reserved byte 0, lengths that land on the next header). 'wait': not
 * enough bytes to tell yet. null: not FastCGI.
 */
export function streamStart(b: Uint8Array, midstream: boolean): { at: number; direction: Direction } | 'wait' | null {
  if (b.length < 8) return 'wait';
  const first = recordDirection(b.subarray(0, 8));
  if (first !== null || !midstream) return first === null ? null : { at: 0, direction: first };
  for (let at = 0; at + 8 <= b.length; at++) {
    if (!plausibleHeader(b, at)) continue;
    const next = at + 8 + ((b[at + 4]! << 8) | b[at + 5]!) + b[at + 6]!;
    if (next + 8 > b.length) return next === b.length ? { at, direction: typeDirection(b[at + 1]!) } : 'wait';
    if (plausibleHeader(b, next) && typeDirection(b[next + 1]!) === typeDirection(b[at + 1]!)) return { at, direction: typeDirection(b[at + 1]!) };
  }
  return b.length >= MAX_RESYNC ? null : 'wait';
}

function plausibleHeader(b: Uint8Array, at: number): boolean {
  const type = b[at + 1]!;
  if (b[at] !== 1 || type < RecordType.BEGIN_REQUEST || type > RecordType.UNKNOWN_TYPE || b[at + 7] !== 0) return false;
  const clen = (b[at + 4]! << 8) | b[at + 5]!;
  return (type !== RecordType.BEGIN_REQUEST && type !== RecordType.END_REQUEST) || clen === 8;
}

function typeDirection(type: number): Direction {
  return TO_APP_TYPES.has(type) ? 'to-app' : 'from-app';
}

/** The direction a stream's first record header says it goes, or null when it is not FastCGI. */
export function recordDirection(h: Uint8Array): Direction | null {
  if (h.length < 8 || h[0] !== 1) return null;
  const type = h[1]!;
  const id = (h[2]! << 8) | h[3]!;
  const clen = (h[4]! << 8) | h[5]!;
  if (type === RecordType.BEGIN_REQUEST) return clen === 8 && id !== 0 ? 'to-app' : null;
  if (type === RecordType.GET_VALUES) return id === 0 ? 'to-app' : null;
  if (type === RecordType.END_REQUEST) return clen === 8 ? 'from-app' : null;
  if (type === RecordType.STDOUT || type === RecordType.STDERR) return id !== 0 ? 'from-app' : null;
  if (type === RecordType.GET_VALUES_RESULT || type === RecordType.UNKNOWN_TYPE) return id === 0 ? 'from-app' : null;
  return null;
}

/** pcap, pcapng, hex text or raw FastCGI bytes, by the first bytes. */
export function detectFormat(head: Uint8Array): InputFormat {
  const cap = looksLikeCapture(head);
  if (cap) return cap;
  if (head.length > 0 && head[0] === 1) return 'raw';
  // text: hex digits, blanks, offsets columns, the printable column of a dump
  let text = head.length > 0;
  for (let i = 0; i < Math.min(head.length, 512); i++) {
    const b = head[i]!;
    if (!(b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127))) {
      text = false;
      break;
    }
  }
  return text ? 'hex' : 'raw';
}

/** One-shot inspection of a whole input (bytes, or a string of hex). */
export function inspect(input: Uint8Array | string, options: Omit<InspectorOptions, 'onExchange' | 'onFinding'> = {}): InspectReport {
  const i = new Inspector(options);
  i.push(input);
  return i.end();
}

export type { Exchange };
