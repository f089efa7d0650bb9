// The detail view of one exchange: summary, findings, params, response headers, body previews (text or
// hex), and the request's records with their offsets, findings marked on the record they point into.

import { recordTypeName } from '../../src/codec/index.js';
import type { ExchangeView, FindingView, RecordView, BodyView } from './model.js';
import type { Detail } from './decode-job.js';
import { formatBytes, formatDuration, hexDump, roleName, textPreview } from './format.js';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function table(caption: string, head: string[], rows: (string | number)[][], rowClass?: (i: number) => string): HTMLTableElement {
  const t = el('table');
  t.append(el('caption', caption, 'visually-hidden'));
  const tr = el('tr');
  for (const h of head) tr.append(Object.assign(el('th', h), { scope: 'col' }));
  t.append(el('thead'));
  t.tHead!.append(tr);
  const body = el('tbody');
  rows.forEach((r, i) => {
    const row = el('tr');
    const cls = rowClass?.(i);
    if (cls) row.className = cls;
    r.forEach((c, j) => row.append(el('td', String(c), j === r.length - 1 ? 'value' : undefined)));
    body.append(row);
  });
  t.append(body);
  return t;
}

/** A body preview with a text/hex toggle. */
function preview(title: string, b: BodyView): HTMLElement {
  const box = el('div', undefined, 'body-preview');
  const h = el('h3', `${title} `);
  h.append(el('small', `${formatBytes(b.bytes)}${b.preview.length < b.bytes ? `, first ${formatBytes(b.preview.length)} shown` : ''}`));
  box.append(h);
  if (b.preview.length === 0) return box;
  const pre = el('pre', textPreview(b.preview), 'preview');
  pre.tabIndex = 0;
  pre.setAttribute('aria-label', `${title} preview`);
  const toggle = el('button', 'Show hex', 'toggle');
  toggle.type = 'button';
  toggle.setAttribute('aria-pressed', 'false');
  toggle.addEventListener('click', () => {
    const hex = toggle.getAttribute('aria-pressed') !== 'true';
    toggle.setAttribute('aria-pressed', String(hex));
    toggle.textContent = hex ? 'Show text' : 'Show hex';
    pre.textContent = hex ? hexDump(b.preview) : textPreview(b.preview);
  });
  h.append(' ', toggle);
  box.append(pre);
  return box;
}

const severityClass = (f: FindingView): string => (f.severity === 'error' ? 'error' : 'warning');

/** The findings that point into a record: same direction (when the finding names one), offset inside it. */
function findingsIn(r: RecordView, findings: FindingView[]): FindingView[] {
  const end = r.offset + 8 + r.contentLength + r.paddingLength;
  return findings.filter((f) => (f.direction === undefined || f.direction === r.direction) && f.offset >= r.offset && f.offset < end);
}

/** Shows "Loading…" in `into`, then the exchange once `detail` arrives (unless another was opened since). */
export function renderDetail(into: HTMLElement, detail: Promise<Detail | null>, conversationLabel: string, captureStart: number | undefined): void {
  const mark = Symbol('detail');
  (into as { current?: symbol }).current = mark;
  into.replaceChildren(el('p', 'Loading…', 'hint'));
  void detail.then((d) => {
    if ((into as { current?: symbol }).current !== mark) return;
    into.replaceChildren(...(d ? exchangeParts(d.exchange, d.records, conversationLabel, captureStart) : [el('p', 'This request is no longer available.', 'hint')]));
  });
}

function exchangeParts(e: ExchangeView, list: RecordView[], conversationLabel: string, captureStart: number | undefined): HTMLElement[] {
  const parts: HTMLElement[] = [];
  const summary = el('dl', undefined, 'summary');
  const t = e.times;
  const rel = (x?: number): string => (x === undefined ? '' : captureStart === undefined ? String(x) : `+${formatDuration(x - captureStart)}`);
  const facts: [string, string][] = [
    ['Connection', conversationLabel],
    ['Request id', String(e.requestId)],
    ['Role', e.roleName || roleName(e.role)],
    ['Flags', `${e.flags}${e.keepConn ? ' (KEEP_CONN)' : ''}`],
    ['Status', e.response ? `${e.response.status === undefined ? '(headers incomplete)' : `${e.response.status} ${e.response.statusText ?? ''}`.trim()}, appStatus ${e.response.appStatus ?? '?'}, protocolStatus ${e.response.protocolStatus ?? '?'}` : 'no response in the capture'],
  ];
  if (t.begin !== undefined) facts.push(['Began', rel(t.begin)]);
  if (t.begin !== undefined && t.firstResponse !== undefined) facts.push(['First response', `after ${formatDuration(t.firstResponse - t.begin)}`]);
  if (t.begin !== undefined && t.end !== undefined) facts.push(['Ended', `after ${formatDuration(t.end - t.begin)}`]);
  if (e.aborted) facts.push(['Aborted', 'the web server sent ABORT_REQUEST']);
  for (const [k, v] of facts) summary.append(el('dt', k), el('dd', v));
  parts.push(summary);

  if (e.findings.length > 0) {
    parts.push(el('h3', `Findings (${e.findings.length})`));
    const ul = el('ul', undefined, 'finding-list');
    ul.setAttribute('aria-label', 'Findings of this request');
    for (const f of e.findings) {
      const li = el('li', undefined, severityClass(f));
      li.append(el('strong', f.code), ` at offset ${f.offset}${f.direction ? ` (${f.direction})` : ''}: ${f.message}`);
      ul.append(li);
    }
    parts.push(ul);
  }

  parts.push(el('h3', `Params (${e.params.length})`));
  parts.push(table('Params', ['Name', 'Value'], e.params));
  if (e.stdin.bytes > 0) parts.push(preview('Request body (STDIN)', e.stdin));
  if (e.data && e.data.bytes > 0) parts.push(preview('Filter data (DATA)', e.data));
  const r = e.response;
  if (r) {
    parts.push(el('h3', `Response headers${r.headersComplete ? '' : ' (incomplete)'}`));
    parts.push(table('Response headers', ['Name', 'Value'], r.headers));
    parts.push(preview('Response body (STDOUT after the headers)', r.body));
    if (r.stderr.bytes > 0) parts.push(preview('STDERR', r.stderr));
  }
  const marks = list.map((rec) => findingsIn(rec, e.findings));
  const rows = list.map((rec, i) => [
    rec.offset,
    rec.direction,
    rec.typeName || recordTypeName(rec.type),
    rec.contentLength,
    rec.paddingLength,
    marks[i]!.map((f) => f.code).join(', '),
  ]);
  parts.push(el('h3', `Records (${list.length})`));
  const tbl = table('Records', ['Offset', 'Direction', 'Type', 'Content', 'Padding', 'Finding'], rows, (i) =>
    marks[i]!.length > 0 ? `finding ${marks[i]!.some((f) => f.severity === 'error') ? 'error' : 'warning'}` : '',
  );
  tbl.classList.add('records');
  parts.push(tbl);
  return parts;
}
