// What the page shows, as plain data that crosses the worker boundary by structured clone: the
// inspector's objects point at each other (an exchange at its conversation and its records), so each
// one is copied into a flat view with only what the page draws.

import type { BytesPreview, Conversation, Exchange, Finding, RecordInfo } from '../../src/inspect/index.js';

export interface FindingView {
  code: string;
  severity: string;
  message: string;
  offset: number;
  direction?: string;
  conversation?: number;
  requestId?: number;
}

export interface ConversationView {
  id: number;
  /** "client -> server" when the capture names them. */
  label: string;
  firstTime?: number;
  lastTime?: number;
}

export interface BodyView {
  bytes: number;
  preview: Uint8Array;
}

/** One row of the request list: what the list, the timeline and the filters need, and no more. */
export interface ExchangeSummary {
  /** Position in the list of every exchange, in the order the decoder finished them. */
  key: number;
  conversation: number;
  requestId: number;
  method: string;
  uri: string;
  /** The CGI status (Status header, 302 for a bare Location, else 200) once the response head is complete. */
  status?: number;
  hasResponse: boolean;
  bodyBytes: number;
  times: { begin?: number; firstResponse?: number; end?: number };
  findings: FindingView[];
}

/** Everything the detail view shows of one exchange (asked for when a row is opened). */
export interface ExchangeView {
  key: number;
  conversation: number;
  requestId: number;
  role: number;
  roleName: string;
  aborted: boolean;
  flags: number;
  keepConn: boolean;
  params: [string, string][];
  stdin: BodyView;
  data?: BodyView;
  response?: {
    status?: number;
    statusText?: string;
    headers: [string, string][];
    headersComplete: boolean;
    body: BodyView;
    stderr: BodyView;
    appStatus?: number;
    protocolStatus?: number;
  };
  times: { begin?: number; firstResponse?: number; end?: number };
  findings: FindingView[];
}

export type RecordView = Pick<RecordInfo, 'offset' | 'direction' | 'type' | 'typeName' | 'requestId' | 'contentLength' | 'paddingLength' | 'time'>;

export interface Stats {
  bytes: number;
  records: number;
  requests: number;
  conversations: number;
  packets?: number;
}

function bodyView(b: BytesPreview | undefined): BodyView {
  return b ? { bytes: b.bytes, preview: b.preview } : { bytes: 0, preview: new Uint8Array(0) };
}

export function findingView(f: Finding): FindingView {
  const v: FindingView = { code: f.code, severity: f.severity, message: f.message, offset: f.offset };
  if (f.direction !== undefined) v.direction = f.direction;
  if (f.conversation !== undefined) v.conversation = f.conversation;
  if (f.requestId !== undefined) v.requestId = f.requestId;
  return v;
}

export function conversationView(c: Conversation): ConversationView {
  const end = (p?: { address: string; port: number }): string => (p ? (p.address.includes(':') ? `[${p.address}]:${p.port}` : `${p.address}:${p.port}`) : '?');
  const v: ConversationView = { id: c.id, label: c.client || c.server ? `${end(c.client)} -> ${end(c.server)}` : `stream ${c.id}` };
  if (c.firstTime !== undefined) v.firstTime = c.firstTime;
  if (c.lastTime !== undefined) v.lastTime = c.lastTime;
  return v;
}

export function exchangeView(key: number, conversation: Conversation, e: Exchange): ExchangeView {
  const r = e.response;
  const v: ExchangeView = {
    key,
    conversation: conversation.id,
    requestId: e.requestId,
    role: e.role,
    roleName: e.roleName,
    aborted: e.aborted,
    flags: e.flags,
    keepConn: e.keepConn,
    params: e.params.map(([n, val]) => [n, val]),
    stdin: bodyView(e.stdin),
    times: { ...e.times },
    findings: e.findings.map(findingView),
  };
  if (e.data) v.data = bodyView(e.data);
  if (r) {
    v.response = {
      headers: r.headers.map(([n, val]) => [n, val]),
      headersComplete: r.headersComplete,
      body: bodyView(r.body),
      stderr: bodyView(r.stderr),
    };
    if (r.status !== undefined) v.response.status = r.status;
    if (r.statusText !== undefined) v.response.statusText = r.statusText;
    if (r.appStatus !== undefined) v.response.appStatus = r.appStatus;
    if (r.protocolStatus !== undefined) v.response.protocolStatus = r.protocolStatus;
  }
  return v;
}

export function recordView(r: RecordInfo): RecordView {
  const v: RecordView = {
    offset: r.offset, direction: r.direction, type: r.type, typeName: r.typeName, requestId: r.requestId,
    contentLength: r.contentLength, paddingLength: r.paddingLength,
  };
  if (r.time !== undefined) v.time = r.time;
  return v;
}

function param(e: Exchange, name: string): string | undefined {
  for (const [n, v] of e.params) if (n === name) return v;
  return undefined;
}

export function exchangeSummary(key: number, conversation: Conversation, e: Exchange): ExchangeSummary {
  const s: ExchangeSummary = {
    key,
    conversation: conversation.id,
    requestId: e.requestId,
    method: param(e, 'REQUEST_METHOD') ?? '',
    uri: param(e, 'REQUEST_URI') ?? param(e, 'SCRIPT_NAME') ?? '',
    hasResponse: e.response !== undefined,
    bodyBytes: e.response?.body.bytes ?? 0,
    times: { ...e.times },
    findings: e.findings.map(findingView),
  };
  if (e.response?.status !== undefined) s.status = e.response.status;
  return s;
}
