// `fcgi inspect FILE|-`: src/inspect's report in a terminal (a table of requests, then details and
// findings), as JSON, or as the raw record list. Exits 1 when a finding of severity error exists.

import { createReadStream } from 'node:fs';
import { Inspector, reportToJSON, readableText, type Conversation, type Exchange, type Finding, type InspectReport, type BytesPreview } from '../inspect/index.js';
import { ProtocolStatus } from '../codec/constants.js';
import { parseArgs, one, UsageError } from './args.js';

export const INSPECT_USAGE = `usage: fcgi inspect FILE|- [--json] [--records] [--summary] [--hex] [--format F] [--preview N] [--no-color]

Decodes the FastCGI traffic in FILE (or standard input, -): a pcap or pcapng capture (tcpdump, tshark,
Wireshark; any port: FastCGI is found by content), raw FastCGI bytes of one direction or both, or a hex
dump (xxd, hexdump -C, tshark -z follow,tcp,hex|raw, plain hex). Prints a table of requests, then each
request in detail, then the findings: protocol errors and interop traps, each with its byte offset.

  --json        the whole report as compact JSON (previews as text or base64)
  --records     the list of records (offset, direction, type, id, lengths, time) instead of the details
  --summary     the table and the findings only
  --hex         the input is hex text (same as --format hex)
  --format F    auto (default), raw, hex, pcap or pcapng
  --preview N   bytes kept of each body, stdin and stderr (default 256)
  --no-color    no colours (also when NO_COLOR is set or the output is not a terminal)

Exit status: 0, or 1 when a finding of severity error exists, 2 on a usage error.`;

const FORMATS = ['auto', 'raw', 'hex', 'pcap', 'pcapng'] as const;

export async function inspectCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, ['json', 'records', 'summary', 'hex', 'no-color', 'help']);
  if (p.flags.has('help')) {
    console.log(INSPECT_USAGE);
    return 0;
  }
  const file = p.positional[0];
  if (file === undefined || p.positional.length > 1) throw new UsageError('give one FILE, or - for standard input');
  const format = p.flags.has('hex') ? 'hex' : (one(p, 'format') ?? 'auto');
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
  const preview = one(p, 'preview');
  const previewBytes = preview === undefined ? undefined : Number(preview);
  if (previewBytes !== undefined && !(Number.isInteger(previewBytes) && previewBytes >= 0)) throw new UsageError('--preview must be a whole number of bytes');
  const json = p.flags.has('json');
  const records = p.flags.has('records');
  const inspector = new Inspector({ format: format as (typeof FORMATS)[number], previewBytes, records: json || records });
  const input = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 });
  for await (const chunk of input as AsyncIterable<Uint8Array>) inspector.push(chunk);
  const report = inspector.end();
  const out: string[] = [];
  if (json) out.push(JSON.stringify(reportToJSON(report))); // compact: a big capture makes a big report (jq pretty-prints)
  else {
    const color = !p.flags.has('no-color') && !process.env.NO_COLOR && process.stdout.isTTY === true;
    new TextReport(out, color).write(file === '-' ? 'standard input' : file, report, records, p.flags.has('summary'));
  }
  await write(out.join('\n') + '\n');
  return report.findings.some((f) => f.severity === 'error') ? 1 : 0;
}

function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
}

const ANSI = { red: 31, green: 32, yellow: 33, cyan: 36, dim: 2, bold: 1 } as const;

class TextReport {
  constructor(
    private readonly out: string[],
    private readonly color: boolean,
  ) {}

  private c(style: keyof typeof ANSI, text: string): string {
    return this.color ? `\x1b[${ANSI[style]}m${text}\x1b[0m` : text;
  }

  write(name: string, r: InspectReport, records: boolean, summary: boolean): void {
    const errors = r.findings.filter((f) => f.severity === 'error').length;
    const warnings = r.findings.length - errors;
    const s = r.stats;
    const input = `${r.format}${s.packets !== undefined ? `, ${s.packets} packets` : ''}, ${size(s.bytes)}`;
    const counts = `${s.conversations} conversation${s.conversations === 1 ? '' : 's'}, ${s.requests} request${s.requests === 1 ? '' : 's'}, ${s.records} records`;
    const found = `${errors ? this.c('red', `${errors} error${errors === 1 ? '' : 's'}`) : '0 errors'}, ${warnings ? this.c('yellow', `${warnings} warning${warnings === 1 ? '' : 's'}`) : '0 warnings'}`;
    this.out.push(`${this.c('bold', name)}: ${input}; ${counts}; ${found}`);
    this.table(r);
    if (records) for (const c of r.conversations) this.records(c);
    else if (!summary) for (const c of r.conversations) this.details(c);
    if (r.findings.length > 0) {
      this.out.push('', this.c('bold', 'findings'));
      for (const f of r.findings) this.out.push(`  ${this.finding(f)}`);
    }
  }

  private table(r: InspectReport): void {
    const rows: string[][] = [['conv', 'id', 'request', 'status', 'bytes', 'app', 'time']];
    const statuses: (number | undefined)[] = [undefined];
    for (const c of r.conversations) {
      for (const e of c.exchanges) {
        const res = e.response;
        rows.push([
          String(c.id), String(e.requestId), requestLine(e), res?.status !== undefined ? String(res.status) : '-',
          res ? size(res.body.bytes) : '-', res?.appStatus !== undefined ? String(res.appStatus) : '-', duration(e),
        ]);
        statuses.push(res?.status);
      }
    }
    if (rows.length === 1) {
      this.out.push('', 'no FastCGI requests found');
      return;
    }
    // a loop, not Math.max(...): a capture may hold more rows than a call takes arguments
    const widths = rows[0]!.map((_, i) => {
      let w = 0;
      for (const row of rows) w = Math.max(w, row[i]!.length);
      return Math.min(i === 2 ? 60 : 12, w);
    });
    this.out.push('');
    rows.forEach((row, n) => {
      const cells = row.map((cell, i) => {
        const text = cell.length > widths[i]! ? `${cell.slice(0, widths[i]! - 1)}~` : cell;
        return i === 2 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!);
      });
      if (n > 0) cells[3] = this.status(statuses[n], cells[3]!);
      const line = `  ${cells.join('  ')}`;
      this.out.push(n === 0 ? this.c('dim', line) : line);
    });
  }

  private status(code: number | undefined, text: string): string {
    if (code === undefined) return text;
    return code >= 500 ? this.c('red', text) : code >= 400 ? this.c('yellow', text) : code < 300 ? this.c('green', text) : text;
  }

  private details(c: Conversation): void {
    const ends = c.client && c.server ? `${endpoint(c.client)} -> ${endpoint(c.server)}` : 'a byte stream';
    this.out.push('', this.c('bold', `conversation ${c.id}: ${ends}`) + `, ${c.exchanges.length} request${c.exchanges.length === 1 ? '' : 's'}, ${size(c.bytesToApp)} to the app, ${size(c.bytesFromApp)} back${c.closed ? ', closed' : ''}`);
    for (const m of c.management) {
      const what = m.pairs ? m.pairs.map(([n, v]) => (v ? `${n}=${v}` : n)).join(' ') : `type ${m.unknownType}`;
      this.out.push(`  ${m.typeName} (${m.direction}) @${m.offset}: ${what}`);
    }
    for (const e of c.exchanges) {
      this.out.push(`  ${this.c('cyan', `request ${e.requestId}`)} ${e.roleName}${e.keepConn ? ' KEEP_CONN' : ''}${e.aborted ? ' ABORTED' : ''} @${e.offset}  ${requestLine(e)}`);
      this.out.push(`    params (${e.params.length})${e.paramsComplete ? '' : ' (not ended)'}:`);
      for (const [n, v] of e.params) this.out.push(`      ${n} = ${v}`);
      this.out.push(`    stdin: ${body(e.stdin)}`);
      if (e.data) this.out.push(`    data: ${body(e.data)}`);
      const r = e.response;
      if (!r) this.out.push('    no response');
      else {
        const head = r.headersComplete && r.status !== undefined ? this.status(r.status, `${r.status} ${r.statusText ?? ''}`.trim()) : 'no complete CGI head';
        this.out.push(`    response: ${head}, body ${body(r.body)}`);
        for (const [n, v] of r.headers) this.out.push(`      ${n}: ${v}`);
        if (r.stderr.bytes > 0) this.out.push(`    stderr: ${body(r.stderr)}`);
        if (r.appStatus !== undefined) {
          const ps = Object.keys(ProtocolStatus).find((k) => ProtocolStatus[k as keyof typeof ProtocolStatus] === r.protocolStatus) ?? String(r.protocolStatus);
          this.out.push(`    end: appStatus ${r.appStatus}, ${ps}${e.times.end !== undefined && e.times.begin !== undefined ? `, ${duration(e)}` : ''}`);
        }
      }
      for (const f of e.findings) this.out.push(`    ${this.finding(f)}`);
    }
  }

  private records(c: Conversation): void {
    this.out.push('', this.c('bold', `conversation ${c.id}`) + (c.client && c.server ? `: ${endpoint(c.client)} -> ${endpoint(c.server)}` : ''));
    const t0 = c.firstTime;
    for (const r of c.records) {
      const when = r.time !== undefined && t0 !== undefined ? `  +${(r.time - t0).toFixed(3)}ms` : '';
      const frame = r.frame !== undefined ? `  frame ${r.frame}` : '';
      this.out.push(`  @${String(r.offset).padStart(8)}  ${r.direction.padEnd(8)}  ${r.typeName.padEnd(17)}  id ${String(r.requestId).padEnd(5)} ${String(r.contentLength).padStart(5)}+${r.paddingLength}${when}${frame}`);
    }
  }

  private finding(f: Finding): string {
    const sev = f.severity === 'error' ? this.c('red', 'error  ') : this.c('yellow', 'warning');
    const where = [f.conversation !== undefined ? `conv ${f.conversation}` : '', f.requestId !== undefined ? `id ${f.requestId}` : '', f.direction ?? '', `@${f.offset}`, f.frame !== undefined ? `frame ${f.frame}` : '']
      .filter(Boolean)
      .join(' ');
    return `${sev} ${f.code}  ${where}: ${f.message}`;
  }
}

function param(e: Exchange, name: string): string | undefined {
  for (let i = e.params.length - 1; i >= 0; i--) if (e.params[i]![0] === name) return e.params[i]![1];
  return undefined;
}

function requestLine(e: Exchange): string {
  const method = param(e, 'REQUEST_METHOD');
  const uri = param(e, 'REQUEST_URI') ?? param(e, 'SCRIPT_NAME') ?? param(e, 'SCRIPT_FILENAME');
  if (method === undefined && uri === undefined) return e.roleName === 'RESPONDER' ? '(no params)' : e.roleName;
  return [method, uri].filter((x) => x !== undefined).join(' ');
}

function duration(e: Exchange): string {
  const { begin, end } = e.times;
  if (begin === undefined || end === undefined) return '-';
  const ms = end - begin;
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)}s` : `${ms.toFixed(ms < 10 ? 2 : 1)}ms`;
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function endpoint(e: { address: string; port: number }): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

function body(b: BytesPreview): string {
  if (b.bytes === 0) return '0 bytes';
  const cut = b.preview.length < b.bytes;
  const text = readableText(b.preview, cut);
  const shown = text !== null
    ? JSON.stringify(text.length > 120 ? text.slice(0, 120) : text)
    : Array.from(b.preview.subarray(0, 32), (x) => x.toString(16).padStart(2, '0')).join(' ');
  return `${b.bytes} bytes ${shown}${cut || (text?.length ?? 0) > 120 ? '...' : ''}`;
}
