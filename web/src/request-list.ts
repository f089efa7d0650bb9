// The list of requests: a listbox (arrow keys, Home/End, Page keys, Enter), rows rendered in batches
// (the first `cap`, then "Show more"), so a capture with 100 000 requests costs only the rows shown.

import type { ExchangeSummary } from './model.js';
import { formatBytes, formatDuration } from './format.js';

const FIRST_ROWS = 200;
const MORE_ROWS = 500;

export class RequestList {
  private items: ExchangeSummary[] = [];
  private rendered = 0;
  private cap = FIRST_ROWS;
  /** Index (in items) of the row with keyboard focus; the selected row follows it. */
  private active = -1;
  private selectedKey = -1;

  constructor(
    private readonly box: HTMLElement,
    private readonly moreButton: HTMLButtonElement,
    private readonly shown: HTMLElement,
    private readonly conversationLabel: (id: number) => string,
    private readonly onSelect: (e: ExchangeSummary) => void,
  ) {
    moreButton.addEventListener('click', () => {
      this.cap += MORE_ROWS;
      this.grow();
    });
    box.addEventListener('click', (ev) => {
      const row = (ev.target as HTMLElement).closest<HTMLElement>('[role=option]');
      if (row) this.activate(Number(row.dataset.index));
    });
    box.addEventListener('keydown', (ev) => this.key(ev));
  }

  /** Shows `items` (a list that may still grow: call grow() after appending). */
  reset(items: ExchangeSummary[]): void {
    this.items = items;
    this.box.replaceChildren();
    this.rendered = 0;
    this.cap = FIRST_ROWS;
    this.active = -1;
    this.box.removeAttribute('aria-activedescendant');
    this.grow();
  }

  /** Renders rows for items appended since the last call, up to the cap. */
  grow(): void {
    const end = Math.min(this.items.length, this.cap);
    if (end > this.rendered) {
      const frag = document.createDocumentFragment();
      for (let i = this.rendered; i < end; i++) frag.append(this.row(this.items[i]!, i));
      this.box.append(frag);
      this.rendered = end;
    }
    const n = this.items.length;
    this.shown.textContent = n === 0 ? 'No requests.' : this.rendered < n ? `Showing ${this.rendered.toLocaleString('en')} of ${n.toLocaleString('en')} requests.` : `${n.toLocaleString('en')} requests.`;
    this.moreButton.hidden = this.rendered >= n;
  }

  /** Selects the request with this key, if it is in the list (showing more rows to reach it). */
  select(key: number): void {
    const i = this.items.findIndex((e) => e.key === key);
    if (i < 0) return;
    if (i >= this.rendered) {
      this.cap = i + 1 + FIRST_ROWS;
      this.grow();
    }
    this.activate(i);
  }

  private row(e: ExchangeSummary, i: number): HTMLElement {
    const row = document.createElement('div');
    row.role = 'option';
    row.id = `request-${e.key}`;
    row.dataset.index = String(i);
    row.dataset.key = String(e.key);
    row.className = 'row';
    row.setAttribute('aria-selected', String(e.key === this.selectedKey));
    const worst = e.findings.some((f) => f.severity === 'error') ? 'error' : 'warning';
    if (e.findings.length > 0) row.classList.add('finding', worst);
    const status = e.status;
    const t = e.times;
    const cells: [string, string?][] = [
      [this.conversationLabel(e.conversation)],
      [String(e.requestId)],
      [e.method],
      [e.uri],
      [status === undefined ? (e.hasResponse ? '' : '—') : String(status), status === undefined ? undefined : `status-${String(status)[0]}`],
      [e.hasResponse ? formatBytes(e.bodyBytes) : ''],
      [t.begin !== undefined && t.end !== undefined ? formatDuration(t.end - t.begin) : ''],
    ];
    for (const [text, cls] of cells) {
      const span = document.createElement('span');
      span.textContent = text;
      if (cls) span.className = cls;
      row.append(span);
    }
    const badge = document.createElement('span');
    if (e.findings.length > 0) {
      const b = document.createElement('span');
      b.className = `badge ${worst}`;
      b.textContent = `⚠ ${e.findings.length}`;
      b.title = e.findings.map((f) => `${f.code}: ${f.message}`).join('\n');
      badge.append(b);
      badge.setAttribute('aria-label', `${e.findings.length} findings: ${e.findings.map((f) => f.code).join(', ')}`);
    }
    row.append(badge);
    return row;
  }

  private rowAt(i: number): HTMLElement | null {
    return this.box.children[i] as HTMLElement | null;
  }

  private activate(i: number): void {
    if (i < 0 || i >= this.items.length) return;
    if (i >= this.rendered) {
      this.cap = Math.max(this.cap, i + 1);
      this.grow();
    }
    this.rowAt(this.active)?.classList.remove('active');
    for (const old of this.box.querySelectorAll('[aria-selected=true]')) old.setAttribute('aria-selected', 'false');
    this.active = i;
    const row = this.rowAt(i)!;
    row.classList.add('active');
    row.setAttribute('aria-selected', 'true');
    row.scrollIntoView({ block: 'nearest' });
    this.box.setAttribute('aria-activedescendant', row.id);
    const e = this.items[i]!;
    this.selectedKey = e.key;
    this.onSelect(e);
  }

  private key(ev: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.box.clientHeight / 22));
    const last = this.items.length - 1;
    const moves: Record<string, number> = {
      ArrowDown: Math.min(last, this.active + 1),
      ArrowUp: Math.max(0, this.active - 1),
      Home: 0,
      End: Math.min(last, this.cap - 1),
      PageDown: Math.min(last, this.active + page),
      PageUp: Math.max(0, this.active - page),
      Enter: Math.max(0, this.active),
      ' ': Math.max(0, this.active),
    };
    const to = moves[ev.key];
    if (to === undefined || last < 0) return;
    ev.preventDefault();
    this.activate(to);
  }
}
