// One decoding run: a capture (a Blob read in slices, or pasted hex) fed to src/inspect's Inspector,
// its exchanges and findings handed on in batches as they complete. The same code runs in the Worker
// and, when no Worker can be made, on the page's own thread (with smaller slices and a yield between).

import { RecordType } from '../../src/codec/index.js';
import { Inspector, type Conversation, type Exchange, type InspectReport } from '../../src/inspect/index.js';
import {
  conversationView, exchangeSummary, exchangeView, findingView, recordView,
  type ConversationView, type ExchangeSummary, type ExchangeView, type FindingView, type RecordView, type Stats,
} from './model.js';

export interface Detail {
  exchange: ExchangeView;
  records: RecordView[];
}

export type Source = { kind: 'blob'; blob: Blob; name: string } | { kind: 'hex'; text: string };

/** What a run reports to the page. */
export type JobEvent =
  | { kind: 'batch'; exchanges: ExchangeSummary[]; conversations: ConversationView[]; findings: FindingView[]; done: number; total: number }
  | { kind: 'end'; stats: Stats; format: string; conversations: ConversationView[] }
  | { kind: 'error'; message: string };

export interface JobOptions {
  /** Bytes read and pushed at a time. */
  sliceBytes: number;
  /** Longest wait before completed exchanges are handed on. */
  batchMs: number;
  /** Called between slices; the main-thread run yields to the event loop here. */
  pause?: () => Promise<void>;
}

const FIRST_SLICE = 128 << 10;

export class DecodeJob {
  private readonly conversations = new Map<number, Conversation>();
  /** Summaries not yet handed on. */
  private exchanges: ExchangeSummary[] = [];
  /** Every exchange by key, for the detail view. */
  private readonly byKey: [Conversation, Exchange][] = [];
  private findings: FindingView[] = [];
  private touched = new Map<number, Conversation>();
  private count = 0;
  private lastFlush = 0;
  private done = 0;
  private total = 0;
  private readonly inspector: Inspector;

  constructor(
    private readonly emit: (e: JobEvent) => void,
    private readonly options: JobOptions,
  ) {
    this.inspector = new Inspector({
      onExchange: (conversation, exchange) => {
        this.note(conversation);
        this.byKey.push([conversation, exchange]);
        this.exchanges.push(exchangeSummary(this.count++, conversation, exchange));
      },
      onFinding: (finding) => {
        this.findings.push(findingView(finding));
      },
    });
  }

  private note(c: Conversation): void {
    if (!this.conversations.has(c.id)) this.conversations.set(c.id, c);
    this.touched.set(c.id, c);
  }

  async run(source: Source): Promise<void> {
    try {
      this.lastFlush = performance.now();
      if (source.kind === 'hex') {
        // as text: the inspector reads the dump's layout too (two directions, as Wireshark marks them)
        this.total = source.text.length;
        this.inspector.push(source.text);
        this.done = this.total;
      } else {
        this.total = source.blob.size;
        await this.feed(async (at, n) => new Uint8Array(await source.blob.slice(at, at + n).arrayBuffer()));
      }
      const report = this.inspector.end();
      this.finish(report);
    } catch (e) {
      this.emit({ kind: 'error', message: e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e) });
    }
  }

  private async feed(read: (at: number, n: number) => Promise<Uint8Array>): Promise<void> {
    const { sliceBytes, pause } = this.options;
    // a small first slice, so the first requests reach the page before a whole slice is decoded
    let n = Math.min(sliceBytes, FIRST_SLICE);
    for (let at = 0; at < this.total; at += n, n = sliceBytes) {
      const chunk = await read(at, Math.min(n, this.total - at));
      this.inspector.push(chunk);
      this.done = at + chunk.length;
      const now = performance.now();
      // the first exchanges go at once; later ones in batches
      if ((this.exchanges.length > 0 && this.count === this.exchanges.length) || now - this.lastFlush >= this.options.batchMs) this.flush(now);
      if (pause) await pause();
    }
  }

  private flush(now: number): void {
    this.lastFlush = now;
    if (this.exchanges.length === 0 && this.findings.length === 0 && this.touched.size === 0) {
      this.emit({ kind: 'batch', exchanges: [], conversations: [], findings: [], done: this.done, total: this.total });
      return;
    }
    const conversations = [...this.touched.values()].map(conversationView);
    this.emit({ kind: 'batch', exchanges: this.exchanges, conversations, findings: this.findings, done: this.done, total: this.total });
    this.exchanges = [];
    this.findings = [];
    this.touched = new Map();
  }

  private finish(report: InspectReport): void {
    for (const c of report.conversations) this.conversations.set(c.id, c);
    this.done = this.total;
    this.flush(performance.now());
    this.emit({
      kind: 'end',
      stats: { ...report.stats },
      format: report.format,
      conversations: report.conversations.map(conversationView),
    });
  }

  /**
   * One exchange in full, with its records: those with its request id from its BEGIN_REQUEST to its
   * END_REQUEST (a keep-alive connection reuses the id for every request), at most `limit`.
   */
  detail(key: number, limit = 5000): Detail | null {
    const found = this.byKey[key];
    if (!found) return null;
    const [c, e] = found;
    const records: RecordView[] = [];
    const all = c.records;
    let i = all.findIndex((r) => r.direction === 'to-app' && r.offset === e.offset);
    for (i = Math.max(i, 0); i < all.length && records.length < limit; i++) {
      const r = all[i]!;
      if (r.requestId !== e.requestId) continue;
      if (r.type === RecordType.BEGIN_REQUEST && r.direction === 'to-app' && records.length > 0) break;
      records.push(recordView(r));
      if (r.type === RecordType.END_REQUEST) break;
    }
    return { exchange: exchangeView(key, c, e), records };
  }
}
