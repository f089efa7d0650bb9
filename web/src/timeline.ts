// The timeline: one lane per connection, one bar per request from its first record to its last, drawn
// on a canvas from the capture's timestamps (a canvas, not SVG: a capture can hold 100 000 requests).
// Clicking a bar selects its request; the list is the keyboard route to the same requests.

import type { ConversationView, ExchangeSummary } from './model.js';
import { formatDuration, plural } from './format.js';

const LANE = 16;
const AXIS = 22;
const LABEL = 150;
const MAX_LANES = 200;

export class Timeline {
  private lanes = new Map<number, number>();
  private t0 = 0;
  private span = 1;
  private width = 0;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly note: HTMLElement,
    private readonly onPick: (key: number) => void,
  ) {
    canvas.addEventListener('click', (ev) => this.pick(ev));
  }

  private exchanges: ExchangeSummary[] = [];
  /** The bars without the selection, drawn off screen, so a new selection costs one copy, not a redraw. */
  private readonly base = document.createElement('canvas');
  private drawn = false;
  private dpr = 1;

  /** Draws every request; cost grows with the count, so the page calls it rarely while decoding. */
  draw(conversations: ConversationView[], exchanges: ExchangeSummary[], selected: number): void {
    this.exchanges = exchanges;
    this.drawn = false;
    const timed = exchanges.filter((e) => e.times.begin !== undefined);
    if (timed.length === 0) {
      this.canvas.width = 0;
      this.canvas.height = 0;
      this.note.textContent = exchanges.length === 0 ? '' : 'No capture timestamps (raw bytes or hex carry none).';
      return;
    }
    let t0 = Infinity;
    let t1 = -Infinity;
    for (const e of timed) {
      t0 = Math.min(t0, e.times.begin!);
      t1 = Math.max(t1, e.times.end ?? e.times.firstResponse ?? e.times.begin!);
    }
    this.t0 = t0;
    this.span = Math.max(t1 - t0, 1e-3);
    this.lanes.clear();
    const withRequests = new Set(timed.map((e) => e.conversation));
    const shownConversations = conversations.filter((c) => withRequests.has(c.id));
    for (const c of shownConversations.slice(0, MAX_LANES)) this.lanes.set(c.id, this.lanes.size);
    this.note.textContent = `${plural(timed.length, 'request')} on ${plural(shownConversations.length, 'connection')} over ${formatDuration(this.span)}${shownConversations.length > MAX_LANES ? `; the first ${MAX_LANES} connections are drawn` : ''}. Click a bar to open its request.`;

    const dpr = globalThis.devicePixelRatio || 1;
    const cssWidth = Math.max(400, (this.canvas.parentElement?.clientWidth ?? 900) - 2);
    const cssHeight = AXIS + this.lanes.size * LANE + 4;
    this.width = cssWidth;
    this.canvas.style.width = `${cssWidth}px`;
    this.canvas.style.height = `${cssHeight}px`;
    this.canvas.width = this.base.width = Math.round(cssWidth * dpr);
    this.canvas.height = this.base.height = Math.round(cssHeight * dpr);
    const g = this.base.getContext('2d');
    if (!g) return;
    g.scale(dpr, dpr);
    g.font = '11px ui-monospace, monospace';
    g.textBaseline = 'middle';
    // axis: ticks at round fractions of the span
    g.fillStyle = '#5b6570';
    g.strokeStyle = '#e3e7eb';
    for (let k = 0; k <= 5; k++) {
      const x = LABEL + ((cssWidth - LABEL - 8) * k) / 5;
      g.fillText(formatDuration((this.span * k) / 5), Math.min(x, cssWidth - 60), AXIS / 2);
      g.beginPath();
      g.moveTo(x + 0.5, AXIS);
      g.lineTo(x + 0.5, cssHeight);
      g.stroke();
    }
    for (const c of shownConversations.slice(0, MAX_LANES)) {
      const y = AXIS + this.lanes.get(c.id)! * LANE;
      g.fillStyle = '#5b6570';
      g.fillText(`#${c.id} ${c.label.split(' -> ')[0]}`.slice(0, 22), 2, y + LANE / 2);
    }
    // a capture of 100 000 requests puts many bars in one pixel: a plain bar that adds no pixel to its
    // lane is skipped (bars with findings are always drawn, on top)
    const filledTo = new Float64Array(this.lanes.size).fill(-1);
    const marked: ExchangeSummary[] = [];
    g.fillStyle = '#0b63c5';
    for (const e of timed) {
      const lane = this.lanes.get(e.conversation);
      if (lane === undefined) continue;
      if (e.findings.length > 0 || !e.hasResponse) {
        marked.push(e);
        continue;
      }
      const [x, w] = this.bar(e);
      if (x + w <= filledTo[lane]! + 0.5) continue;
      g.fillRect(x, AXIS + lane * LANE + 3, w, LANE - 6);
      filledTo[lane] = Math.max(filledTo[lane]!, x + w);
    }
    for (const e of marked) {
      const [x, w] = this.bar(e);
      g.fillStyle = e.findings.length === 0 ? '#8a96a3' : e.findings.some((f) => f.severity === 'error') ? '#b3261e' : '#d98a00';
      g.fillRect(x, AXIS + this.lanes.get(e.conversation)! * LANE + 3, w, LANE - 6);
    }
    this.dpr = dpr;
    this.drawn = true;
    this.select(selected);
  }

  /** Marks the bar of request `key` (and unmarks the previous one). */
  select(key: number): void {
    const g = this.drawn ? this.canvas.getContext('2d') : null;
    if (!g) return;
    g.clearRect(0, 0, this.canvas.width, this.canvas.height);
    g.drawImage(this.base, 0, 0);
    const e = this.exchanges[key];
    const lane = e ? this.lanes.get(e.conversation) : undefined;
    if (!e || lane === undefined || e.times.begin === undefined) return;
    const [x, w] = this.bar(e);
    g.save();
    g.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    g.strokeStyle = '#1d232a';
    g.lineWidth = 2;
    g.strokeRect(x - 2, AXIS + lane * LANE + 1, w + 4, LANE - 2);
    g.restore();
  }

  private bar(e: ExchangeSummary): [number, number] {
    const scale = (this.width - LABEL - 8) / this.span;
    const b = e.times.begin!;
    const end = e.times.end ?? e.times.firstResponse ?? b;
    return [LABEL + (b - this.t0) * scale, Math.max(2, (end - b) * scale)];
  }

  private pick(ev: MouseEvent): void {
    const rect = this.canvas.getBoundingClientRect();
    const x = ev.clientX - rect.left;
    const lane = Math.floor((ev.clientY - rect.top - AXIS) / LANE);
    let best: ExchangeSummary | null = null;
    let bestDistance = 4;
    for (const e of this.exchanges) {
      if (e.times.begin === undefined || this.lanes.get(e.conversation) !== lane) continue;
      const [bx, w] = this.bar(e);
      const d = x < bx ? bx - x : x > bx + w ? x - bx - w : 0;
      if (d < bestDistance) [best, bestDistance] = [e, d];
    }
    if (best) this.onPick(best.key);
  }
}
