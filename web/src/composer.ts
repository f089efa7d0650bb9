// The composer: a request (role, params, body) built with src/codec's Encoder, shown as its bytes and
// as the `fcgi request` command that sends the same request.

import { Encoder, RecordType, Role, Flags } from '../../src/codec/index.js';
import { hexString, shellWord } from './format.js';

export interface ComposerInput {
  address: string;
  method: string;
  /** Path and query, as in the request line: /index.php?x=1 */
  path: string;
  role: number;
  requestId: number;
  keepConn: boolean;
  /** Extra params, one K=V a line (they override the ones made from method and path). */
  extra: string;
  body: string;
}

export interface Composed {
  params: [string, string][];
  bytes: Uint8Array;
  command: string;
}

/** Parses "K=V" lines; blank lines are skipped, a line without "=" is a param with an empty value. */
export function parseParamLines(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    out.push(eq < 0 ? [line.trim(), ''] : [line.slice(0, eq).trim(), line.slice(eq + 1)]);
  }
  return out;
}

const utf8 = new TextEncoder();
let encoder: Encoder | null = null;

export function compose(input: ComposerInput): Composed {
  const body = utf8.encode(input.body);
  const q = input.path.indexOf('?');
  const made: [string, string][] = [
    ['REQUEST_METHOD', input.method],
    ['SCRIPT_NAME', q < 0 ? input.path : input.path.slice(0, q)],
    ['QUERY_STRING', q < 0 ? '' : input.path.slice(q + 1)],
    ['REQUEST_URI', input.path],
  ];
  if (body.length > 0) made.push(['CONTENT_LENGTH', String(body.length)]);
  const extra = parseParamLines(input.extra);
  const params = new Map<string, string>(made);
  for (const [k, v] of extra) params.set(k, v);
  const pairs = [...params];

  const e = (encoder ??= new Encoder());
  const parts = [
    e.beginRequest(input.requestId, input.role, input.keepConn ? Flags.KEEP_CONN : 0),
    e.pairs(input.requestId, pairs),
    ...e.stream(RecordType.STDIN, input.requestId, body, true),
  ];
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);

  const words = ['fcgi', 'request', '--connect', input.address, '--method', input.method];
  if (input.role !== Role.RESPONDER) words.push('--role', input.role === Role.AUTHORIZER ? 'authorizer' : 'filter');
  for (const [k, v] of extra) words.push('--param', `${k}=${v}`);
  if (body.length > 0) words.push('--data', '@body.txt');
  words.push(input.path);
  return { params: pairs, bytes, command: words.map(shellWord).join(' ') };
}

/** Wires the composer form: every change re-encodes. */
export function mountComposer(form: HTMLFormElement): void {
  const field = (name: string): HTMLInputElement & HTMLTextAreaElement & HTMLSelectElement =>
    form.elements.namedItem(name) as HTMLInputElement & HTMLTextAreaElement & HTMLSelectElement;
  const hexOut = form.querySelector<HTMLElement>('[data-out=hex]')!;
  const commandOut = form.querySelector<HTMLElement>('[data-out=command]')!;
  const sizeOut = form.querySelector<HTMLElement>('[data-out=size]')!;
  const problem = form.querySelector<HTMLElement>('[data-out=problem]')!;
  const update = (): void => {
    try {
      const c = compose({
        address: field('address').value.trim() || '127.0.0.1:9000',
        method: field('method').value.trim() || 'GET',
        path: field('path').value.trim() || '/',
        role: Number(field('role').value),
        requestId: Number(field('requestId').value),
        keepConn: field('keepConn').checked,
        extra: field('extra').value,
        body: field('body').value,
      });
      hexOut.textContent = hexString(c.bytes, true);
      commandOut.textContent = c.command;
      sizeOut.textContent = `${c.bytes.length} bytes, ${c.params.length} params`;
      problem.textContent = '';
    } catch (e) {
      problem.textContent = e instanceof Error ? e.message : String(e);
    }
  };
  form.addEventListener('input', update);
  form.addEventListener('submit', (e) => e.preventDefault());
  update();
}
