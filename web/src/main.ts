// The inspector page: wires the inputs (file pick, drop, pasted hex) to a decoding run, and the run's
// batches to the conversations, the request list, the detail view and the timeline.

import './style.css';
import { startRun, type Run } from './decoding.js';
import type { JobEvent, Source } from './decode-job.js';
import type { ConversationView, ExchangeSummary, FindingView } from './model.js';
import { RequestList } from './request-list.js';
import { renderDetail } from './detail.js';
import { Timeline } from './timeline.js';
import { mountComposer } from './composer.js';
import { formatBytes, plural } from './format.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const body = document.body;
const status = $('status');
const results = $('results');
const conversationsBox = $('conversations');
const findingsBox = $('findings');
const detailBody = $('detail-body');

/** Findings listed in the side panel; the rest are counted. */
const FINDINGS_SHOWN = 200;
/**
 * While decoding, the timeline is redrawn this often, and only while it has few requests: each redraw
 * costs the page's thread time in proportion to the requests (a large capture is drawn at the end).
 */
const TIMELINE_EVERY_MS = 1000;
const TIMELINE_LIVE_MAX = 2_000;

interface Session {
  run: Run;
  name: string;
  started: number;
  all: ExchangeSummary[];
  conversations: Map<number, ConversationView>;
  counts: Map<number, number>;
  buttons: Map<number, HTMLButtonElement>;
  findings: FindingView[];
  filter: number | null;
  shown: ExchangeSummary[];
  selected: number;
  captureStart: number | undefined;
  firstRows: boolean;
  timelineAt: number;
}

let session: Session | null = null;

const list = new RequestList($('requests'), $<HTMLButtonElement>('show-more'), $('shown'), (id) => shortLabel(id), (e) => open(e));
const timeline = new Timeline($<HTMLCanvasElement>('timeline'), $('timeline-note'), (key) => list.select(key));

function shortLabel(id: number): string {
  return `#${id}`;
}

function start(source: Source, name: string): void {
  session?.run.stop();
  results.hidden = false;
  body.dataset.state = 'decoding';
  delete body.dataset.firstRowsMs;
  delete body.dataset.doneMs;
  delete body.dataset.requests;
  conversationsBox.replaceChildren();
  findingsBox.replaceChildren();
  detailBody.replaceChildren();
  $('detail-title').textContent = 'Request';
  $('detail-hint').hidden = false;
  const all: ExchangeSummary[] = [];
  const s: Session = {
    run: null as unknown as Run,
    name,
    started: performance.now(),
    all,
    conversations: new Map(),
    counts: new Map(),
    buttons: new Map(),
    findings: [],
    filter: null,
    shown: all,
    selected: -1,
    captureStart: undefined,
    firstRows: false,
    timelineAt: 0,
  };
  session = s;
  conversationsBox.append(conversationButton(s, null, 'All connections'));
  list.reset(s.shown);
  status.textContent = `Decoding ${name}…`;
  s.run = startRun(source, (e) => session === s && onEvent(s, e));
  body.dataset.mode = s.run.mode;
}

function conversationButton(s: Session, id: number | null, label: string): HTMLLIElement {
  const li = document.createElement('li');
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.setAttribute('aria-pressed', String(s.filter === id));
  b.addEventListener('click', () => filterTo(s, id));
  if (id !== null) s.buttons.set(id, b);
  else b.dataset.all = '';
  li.append(b);
  return li;
}

function filterTo(s: Session, id: number | null): void {
  s.filter = id;
  s.shown = id === null ? s.all : s.all.filter((e) => e.conversation === id);
  for (const b of conversationsBox.querySelectorAll('button')) {
    b.setAttribute('aria-pressed', String(id === null ? b.dataset.all !== undefined : b === s.buttons.get(id)));
  }
  list.reset(s.shown);
}

function onEvent(s: Session, e: JobEvent): void {
  body.dataset.mode = s.run.mode;
  if (e.kind === 'error') {
    body.dataset.state = 'error';
    status.textContent = `Could not decode ${s.name}: ${e.message}`;
    return;
  }
  if (e.kind === 'batch') {
    for (const c of e.conversations) addConversation(s, c);
    for (const x of e.exchanges) {
      s.all.push(x);
      s.counts.set(x.conversation, (s.counts.get(x.conversation) ?? 0) + 1);
      if (s.filter !== null && x.conversation === s.filter) s.shown.push(x);
      if (x.times.begin !== undefined && (s.captureStart === undefined || x.times.begin < s.captureStart)) s.captureStart = x.times.begin;
    }
    for (const c of new Set(e.exchanges.map((x) => x.conversation))) {
      const b = s.buttons.get(c);
      if (b) b.textContent = `${s.conversations.get(c)!.label} (${s.counts.get(c)})`;
    }
    addFindings(s, e.findings);
    list.grow();
    if (!s.firstRows && s.all.length > 0) {
      s.firstRows = true;
      body.dataset.firstRowsMs = String(Math.round(performance.now() - s.started));
    }
    const now = performance.now();
    if (now - s.timelineAt > TIMELINE_EVERY_MS && s.all.length <= TIMELINE_LIVE_MAX) drawTimeline(s, now);
    else if (s.all.length > TIMELINE_LIVE_MAX) $('timeline-note').textContent = 'The timeline is drawn when the decoding ends.';
    const pct = e.total > 0 ? Math.floor((100 * e.done) / e.total) : 100;
    status.textContent = `Decoding ${s.name}: ${formatBytes(e.done)} of ${formatBytes(e.total)} (${pct}%), ${plural(s.all.length, 'request')} so far…`;
    return;
  }
  for (const c of e.conversations) addConversation(s, c);
  drawTimeline(s, performance.now());
  const seconds = (performance.now() - s.started) / 1000;
  const st = e.stats;
  status.textContent = `${s.name}: ${e.format}, ${formatBytes(st.bytes)}, ${plural(st.conversations, 'conversation')}, ${plural(st.requests, 'request')}, ${plural(st.records, 'record')}, ${plural(s.findings.length, 'finding')}; decoded in ${seconds.toFixed(2)} s ${s.run.mode === 'worker' ? 'in a worker' : 'on the page thread'}.`;
  body.dataset.doneMs = String(Math.round(seconds * 1000));
  body.dataset.requests = String(st.requests);
  body.dataset.state = 'done';
}

function addConversation(s: Session, c: ConversationView): void {
  const known = s.conversations.has(c.id);
  s.conversations.set(c.id, c);
  if (!known) conversationsBox.append(conversationButton(s, c.id, `${c.label} (${s.counts.get(c.id) ?? 0})`));
  if (c.firstTime !== undefined && (s.captureStart === undefined || c.firstTime < s.captureStart)) s.captureStart = c.firstTime;
}

function addFindings(s: Session, findings: FindingView[]): void {
  for (const f of findings) {
    s.findings.push(f);
    if (s.findings.length > FINDINGS_SHOWN) continue;
    const li = document.createElement('li');
    li.className = f.severity === 'error' ? 'error' : 'warning';
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `${f.code}${f.conversation !== undefined ? ` #${f.conversation}` : ''}${f.requestId !== undefined ? ` id ${f.requestId}` : ''}: ${f.message}`;
    b.addEventListener('click', () => {
      const x = s.all.find((e) => e.conversation === f.conversation && e.requestId === f.requestId && e.findings.some((g) => g.code === f.code && g.offset === f.offset));
      if (x) {
        if (s.filter !== null && s.filter !== x.conversation) filterTo(s, null);
        list.select(x.key);
      } else if (f.conversation !== undefined) filterTo(s, f.conversation);
    });
    li.append(b);
    findingsBox.append(li);
  }
  $('findings-title').textContent = `Findings (${s.findings.length.toLocaleString('en')})`;
}

function drawTimeline(s: Session, now: number): void {
  s.timelineAt = now;
  timeline.draw([...s.conversations.values()], s.all, s.selected);
}

function open(e: ExchangeSummary): void {
  const s = session;
  if (!s) return;
  s.selected = e.key;
  const c = s.conversations.get(e.conversation);
  $('detail-title').textContent = `Request ${e.requestId} on connection #${e.conversation}`;
  $('detail-hint').hidden = true;
  renderDetail(detailBody, s.run.detail(e.key), c ? `#${c.id} ${c.label}` : `#${e.conversation}`, s.captureStart);
  timeline.select(e.key);
}

// inputs: pick, drop, paste
const fileInput = $<HTMLInputElement>('file');
fileInput.addEventListener('change', () => {
  const f = fileInput.files?.[0];
  if (f) start({ kind: 'blob', blob: f, name: f.name }, f.name);
});
const drop = $('drop');
for (const target of [document.documentElement]) {
  target.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    drop.classList.add('over');
  });
  target.addEventListener('dragleave', () => drop.classList.remove('over'));
  target.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    const f = ev.dataTransfer?.files[0];
    if (f) start({ kind: 'blob', blob: f, name: f.name }, f.name);
  });
}
$<HTMLFormElement>('hex-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $<HTMLTextAreaElement>('hex').value;
  if (text.trim() !== '') start({ kind: 'hex', text }, 'pasted hex');
});
mountComposer($<HTMLFormElement>('composer'));
