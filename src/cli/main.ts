#!/usr/bin/env node
// The `fcgi` command: `fcgi proxy` (the HTTP gateway) and `fcgi decode` (the records of a byte stream).
// request, spawn, probe, bench and inspect come with their issues (DESIGN.md).

import { readFileSync } from 'node:fs';
import { Decoder, Encoder, RecordType, Role, Flags, FastCGIProtocolError, recordTypeName, type PairList } from '../codec/index.js';
import { proxy, PROXY_USAGE } from './proxy.js';
import { UsageError } from './args.js';
import { inspectCommand } from './inspect.js';

const DECODE_USAGE = `usage: fcgi decode [FILE | - | --hex HEX] [--json]

Lists the FastCGI records in FILE (raw bytes of one direction), standard input (-) or a hex string.
With no input it decodes the FastCGI specification's example exchange (Appendix B), both directions.`;

const USAGE = `usage: fcgi <command> [options]     (fcgi <command> --help for each)

  proxy    an HTTP gateway in front of FastCGI apps (like nginx fastcgi_pass)
  decode   list the FastCGI records in a byte stream
  inspect  requests, responses and protocol findings in a capture (pcap, pcapng, raw, hex)`;

interface Row {
  offset: number;
  type: string;
  requestId: number;
  contentLength: number;
  paddingLength: number;
  detail: string;
}

function describeRecords(bytes: Uint8Array): { rows: Row[]; error?: FastCGIProtocolError } {
  const rows: Row[] = [];
  let offset = 0;
  const last = (): Row => rows[rows.length - 1]!;
  const d = new Decoder({
    record(type, requestId, content, paddingLength) {
      const isStream = type >= RecordType.STDIN && type <= RecordType.DATA;
      const detail = isStream ? (content.length === 0 ? '(end of stream)' : preview(content)) : '';
      rows.push({ offset, type: recordTypeName(type), requestId, contentLength: content.length, paddingLength, detail });
      offset += 8 + content.length + paddingLength;
    },
    pairs(_t, _id, list: PairList) {
      last().detail = list.length === 0 ? '(end of stream)' : list.toArray().map(([n, v]) => `${n}=${v}`).join(' ');
    },
    begin(_id, role, flags) {
      last().detail = `role ${Object.keys(Role).find((k) => Role[k as keyof typeof Role] === role) ?? role}${flags & Flags.KEEP_CONN ? ' KEEP_CONN' : ''}`;
    },
    end(_id, appStatus, protocolStatus) {
      last().detail = `appStatus ${appStatus} protocolStatus ${protocolStatus}`;
    },
    unknownType(type) {
      last().detail = `unknown type ${type}`;
    },
  });
  try {
    d.push(bytes);
    d.end();
    return { rows };
  } catch (e) {
    if (e instanceof FastCGIProtocolError) return { rows, error: e };
    throw e;
  }
}

function preview(content: Uint8Array): string {
  const text = Array.from(content.subarray(0, 60), (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : b === 10 ? '\\n' : b === 13 ? '\\r' : '.')).join('');
  return `"${text}${content.length > 60 ? '...' : ''}"`;
}

function specExample(): [string, Uint8Array][] {
  const e = new Encoder();
  const join = (parts: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
    return out;
  };
  const text = new TextEncoder();
  return [
    ['web server -> application', join([e.beginRequest(1, Role.RESPONDER), e.pairs(1, { SERVER_PORT: '80', SERVER_ADDR: '199.170.183.42' }), ...e.stream(RecordType.STDIN, 1, new Uint8Array(0), true)])],
    ['application -> web server', join([...e.stream(RecordType.STDOUT, 1, text.encode('Content-type: text/html\r\n\r\n<html>\n'), true), e.endRequest(1, 0)])],
  ];
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  const help = rest.includes('--help') || rest.includes('-h');
  try {
    if (command === 'decode') {
      if (help) return console.log(DECODE_USAGE), 0;
      return decode(rest);
    }
    if (command === 'inspect') return await inspectCommand(rest);
    if (command === 'proxy') {
      if (help) return console.log(PROXY_USAGE), 0;
      return await proxy(rest);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`fcgi ${command}: ${e.message}`);
      return 2;
    }
    throw e;
  }
  console.error(`fcgi: unknown command '${command}'\n${USAGE}`);
  return 2;
}

function decode(rest: string[]): number {  const json = rest.includes('--json');
  const args = rest.filter((a) => a !== '--json');
  let inputs: [string, Uint8Array][];
  if (args.length === 0) inputs = specExample();
  else if (args[0] === '--hex') inputs = [['hex', Uint8Array.from((args[1] ?? '').replace(/[^0-9a-f]/gi, '').match(/../g) ?? [], (h) => parseInt(h, 16))]];
  else inputs = [[args[0]!, args[0] === '-' ? readFileSync(0) : readFileSync(args[0]!)]];

  let failed = false;
  const report = inputs.map(([name, bytes]) => ({ name, bytes: bytes.length, ...describeRecords(bytes) }));
  if (json) {
    console.log(JSON.stringify(report.map((r) => ({ ...r, error: r.error && { code: r.error.code, offset: r.error.offset, message: r.error.message } })), null, 2));
  }
  for (const r of report) {
    if (r.error) failed = true;
    if (json) continue;
    console.log(`${r.name} (${r.bytes} bytes)`);
    for (const row of r.rows) {
      console.log(`  @${String(row.offset).padStart(6)}  ${row.type.padEnd(17)} id ${String(row.requestId).padEnd(5)} ${String(row.contentLength).padStart(5)}+${String(row.paddingLength).padEnd(3)} ${row.detail}`);
    }
    if (r.error) console.log(`  error: ${r.error.message}`);
  }
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(`fcgi: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
