// `fcgi request`: one FastCGI request to an app, as cgi-fcgi -connect does, with the CGI params built
// for you (a gateway's set, from the path and flags), the reply printed as the app sent it (or parsed:
// --include, --body-only, --json), the app's stderr on stderr and its appStatus as the exit status.

import { statSync } from 'node:fs';
import { Client } from '../client/client.js';
import { cgiParams } from '../client/cgi-params.js';
import { Role } from '../codec/constants.js';
import { FastCGIError } from '../codec/errors.js';
import { concatBytes } from '../codec/bytes.js';
import { CgiResponseParser, type CgiHead } from '../protocol/cgi-response.js';
import { all, count, flag, one, pairsOf, parseArgs, UsageError, type Parsed } from './args.js';
import { bodyFrom } from './body-source.js';
import { EXIT, EXIT_HELP, exitCodeFor } from './exit-codes.js';
import { styleFor } from './style.js';

export const REQUEST_USAGE = `usage: fcgi request --connect ADDR [options] PATH[?QUERY]

Sends one request to the FastCGI app at ADDR (host:port, [v6]:port or a Unix socket path) and prints
its CGI response as the app sent it (headers and body, like cgi-fcgi). The app's FCGI_STDERR goes to
stderr.

  --method M            REQUEST_METHOD (default GET, or POST with --data)
  --data @FILE|-|TEXT   the request body (FCGI_STDIN): a file, standard input, or the text itself
  --header 'Name: v'    a request header, sent as HTTP_NAME (Content-Type: as CONTENT_TYPE); repeatable
  --param K=V           add or override a CGI param (K= sets it empty); repeatable
  --root DIR            DOCUMENT_ROOT; SCRIPT_FILENAME is DIR + the script path (default: current dir)
  --script FILE         SCRIPT_FILENAME for every path (a front controller)
  --role R              responder (default), authorizer or filter
  --filter-data FILE    the filter role's file (FCGI_DATA; FCGI_DATA_LENGTH and FCGI_DATA_LAST_MOD set)
  --include             print an HTTP status line and the parsed headers, then the body
  --body-only           print only the body (after the CGI headers)
  --json                print {status, headers, body, stderr, appStatus, ...} as JSON
  --timeout MS          give up after MS milliseconds, connecting included (default 30000)
  --dry-run             print the params it would send (NAME=VALUE lines, or JSON) and send nothing

${EXIT_HELP}`;

const ROLES: Record<string, number> = { responder: Role.RESPONDER, authorizer: Role.AUTHORIZER, filter: Role.FILTER };

interface Reply {
  stdout: Uint8Array[];
  stderr: Uint8Array[];
  appStatus?: number;
  error?: unknown;
  ms: number;
}

export async function request(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    booleans: ['include', 'body-only', 'json', 'dry-run'],
    known: ['connect', 'method', 'data', 'header', 'param', 'root', 'script', 'role', 'filter-data', 'timeout'],
  });
  const target = args.positional[0];
  if (args.positional.length !== 1 || !target) throw new UsageError('give one PATH[?QUERY] (e.g. /index.php?x=1)');
  const mode = flag(args, 'json') ? 'json' : flag(args, 'body-only') ? 'body' : flag(args, 'include') ? 'include' : 'raw';
  if (flag(args, 'include') && flag(args, 'body-only')) throw new UsageError('--include and --body-only exclude each other');
  const role = ROLES[one(args, 'role') ?? 'responder'];
  if (role === undefined) throw new UsageError(`--role is responder, authorizer or filter, got ${JSON.stringify(one(args, 'role'))}`);
  const data = one(args, 'data');
  const body = data === undefined ? undefined : bodyFrom(data, '--data');
  const filterFile = one(args, 'filter-data');
  if ((role === Role.FILTER) !== (filterFile !== undefined)) throw new UsageError('--role filter and --filter-data go together');
  const filterData = filterFile === undefined ? undefined : bodyFrom(`@${filterFile}`, '--filter-data');
  const params = buildParams(args, target, body, filterFile, filterData);

  if (flag(args, 'dry-run')) {
    console.log(mode === 'json' ? JSON.stringify(params, null, 2) : Object.entries(params).map(([k, v]) => `${k}=${v}`).join('\n'));
    return 0;
  }
  const address = one(args, 'connect');
  if (!address) throw new UsageError('--connect ADDR is required (host:port or a Unix socket path)');
  const timeout = count(args, 'timeout', 30_000, 1);

  // one request on one connection, FCGI_KEEP_CONN clear (as cgi-fcgi), no GET_VALUES probe beside it
  // (a single-process fcgi2 app would sit on the probe's connection and not accept ours)
  const client = new Client({ address, maxConnections: 1, keepAlive: false, multiplex: false, connectTimeout: timeout, timeouts: { total: timeout } });
  const started = performance.now();
  const reply: Reply = { stdout: [], stderr: [], ms: 0 };
  const raw = mode === 'raw';
  try {
    await new Promise<void>((resolve) => {
      client
        .exchange(
          { params, body, data: filterData, role },
          {
            stdout: (c) => (raw ? process.stdout.write(c) : reply.stdout.push(c)),
            stderr: (c) => (mode === 'json' ? reply.stderr.push(c) : process.stderr.write(c)),
            end: (appStatus) => ((reply.appStatus = appStatus), resolve()),
            fail: (e) => ((reply.error = e), resolve()),
          },
        )
        .catch((e: unknown) => ((reply.error = e), resolve()));
    });
  } finally {
    client.close();
  }
  reply.ms = performance.now() - started;
  return mode === 'raw' ? finishRaw(reply) : mode === 'json' ? printJson(reply) : printParsed(reply, mode === 'include');
}

/** The CGI params for PATH[?QUERY] and the flags --method, --header, --root, --script, --param. */
export function buildParams(args: Parsed, target: string, body: Uint8Array | undefined, filterFile?: string, filterData?: Uint8Array): Record<string, string> {
  if (!target.startsWith('/')) throw new UsageError(`PATH must start with '/', got ${JSON.stringify(target)}`);
  const headers: [string, string][] = all(args, 'header').map((h) => {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header takes 'Name: value', got ${JSON.stringify(h)}`);
    return [h.slice(0, colon).trim().toLowerCase(), h.slice(colon + 1).trim()];
  });
  if (body !== undefined && !headers.some(([n]) => n === 'content-type')) headers.push(['content-type', 'application/x-www-form-urlencoded']);
  const url = new URL(target, 'http://localhost');
  const method = one(args, 'method') ?? (body !== undefined ? 'POST' : 'GET');
  let params: Record<string, string>;
  try {
    params = cgiParams({ url, method, headers, hasBody: body !== undefined }, body?.length ?? 0, {
      documentRoot: one(args, 'root') ?? process.cwd(),
      scriptFilename: one(args, 'script'),
    });
  } catch (e) {
    if (e instanceof FastCGIError) throw new UsageError(e.message);
    throw e;
  }
  if (filterFile !== undefined && filterData !== undefined) {
    params.FCGI_DATA_LENGTH = String(filterData.length);
    params.FCGI_DATA_LAST_MOD = String(Math.floor(statSync(filterFile).mtimeMs / 1000));
  }
  for (const [k, v] of pairsOf(args, 'param')) params[k] = v;
  return params;
}

function failure(error: unknown): number {
  const code = error instanceof FastCGIError ? error.code : 'ERROR';
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${styleFor(process.stderr).red(`fcgi request: ${code}`)}: ${message}\n`);
  return exitCodeFor(error);
}

function finishRaw(reply: Reply): number {
  return reply.error === undefined ? reply.appStatus! & 0xff : failure(reply.error);
}

/** The head and body of the reply, or the CGI error (INCOMPLETE_HEADERS, BAD_CGI_HEADER...). */
function parse(stdout: Uint8Array): { head: CgiHead; body: Uint8Array } | FastCGIError {
  const parser = new CgiResponseParser();
  try {
    const r = parser.push(stdout);
    if (r) return { head: r.head!, body: r.body };
    parser.end();
  } catch (e) {
    if (e instanceof FastCGIError) return e;
    throw e;
  }
  throw new Error('unreachable: end() throws without a head');
}

function printParsed(reply: Reply, include: boolean): number {
  const stdout = concatBytes(reply.stdout);
  if (reply.error !== undefined) {
    process.stdout.write(stdout);
    return failure(reply.error);
  }
  const parsed = parse(stdout);
  if (parsed instanceof FastCGIError) {
    // what the app did send, so the broken head can be seen
    process.stdout.write(stdout);
    return failure(parsed);
  }
  if (include) {
    const s = styleFor(process.stdout);
    const { head } = parsed;
    const status = `HTTP/1.1 ${head.status} ${head.statusText}`.trimEnd();
    process.stdout.write(`${s.bold(head.status >= 400 ? s.red(status) : status)}\r\n${head.headers.map(([n, v]) => `${s.bold(n)}: ${v}\r\n`).join('')}\r\n`);
  }
  process.stdout.write(parsed.body);
  return reply.appStatus! & 0xff;
}

function printJson(reply: Reply): number {
  const stdout = concatBytes(reply.stdout);
  const out: Record<string, unknown> = { ok: reply.error === undefined, ms: Math.round(reply.ms * 10) / 10 };
  let exit = 0;
  if (reply.error !== undefined) {
    exit = exitCodeFor(reply.error);
    out.error = { code: reply.error instanceof FastCGIError ? reply.error.code : 'ERROR', message: reply.error instanceof Error ? reply.error.message : String(reply.error) };
  } else {
    out.appStatus = reply.appStatus;
    exit = reply.appStatus! & 0xff;
    const parsed = parse(stdout);
    if (parsed instanceof FastCGIError) {
      out.ok = false;
      out.error = { code: parsed.code, message: parsed.message };
      exit = EXIT.PROTOCOL;
    } else {
      out.status = parsed.head.status;
      out.statusText = parsed.head.statusText;
      out.headers = parsed.head.headers;
      Object.assign(out, text('body', parsed.body));
    }
  }
  if (!out.ok) Object.assign(out, text('stdout', stdout)); // what came, to see what broke
  Object.assign(out, text('stderr', concatBytes(reply.stderr)));
  out.exitCode = exit;
  console.log(JSON.stringify(out, null, 2));
  return exit;
}

/** Bytes as a UTF-8 string field, or as `NAMEBase64` when they are not UTF-8. */
function text(name: string, bytes: Uint8Array): Record<string, string> {
  try {
    return { [name]: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { [`${name}Base64`]: Buffer.from(bytes).toString('base64') };
  }
}
