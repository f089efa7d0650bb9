// `fcgi conform`: a conformance tester. Against an app (ADDR) it runs the probe catalogue
// (src/cli/conform/catalogue.ts) and prints what the spec says beside what the app did; with --listen
// it plays the app and reports what the web server in front of it sends.

import { reachable } from '../client/connect.js';
import { FastCGIError } from '../codec/errors.js';
import { count, flag, one, parseArgs, UsageError } from './args.js';
import { EXIT } from './exit-codes.js';
import { buildParams } from './request.js';
import { styleFor } from './style.js';
import type { Probe } from './conform/probe.js';

export const CONFORM_USAGE = `usage: fcgi conform ADDR [options]            probe the FastCGI app at ADDR
       fcgi conform --listen ADDR [options]   be the app at ADDR; report what the web server sends

Against an app (host:port, [v6]:port or a Unix socket path), each probe of the catalogue runs on
connections of its own, bounded by --timeout, one after the other. The table says what the spec says
(section of FastCGI 1.0), what the app did (answered, answered differently, refused, closed, hung,
crashed: refused connections afterwards) and a verdict: pass, information (a choice the spec leaves to
the app), divergence (clients must work around it) or violation.

  --root DIR            DOCUMENT_ROOT of the probes' requests; SCRIPT_FILENAME is DIR + the path
  --script FILE         SCRIPT_FILENAME (php-fpm needs one that exists)
  --path PATH[?QUERY]   the request path (default /)
  --header 'Name: v'    a request header (HTTP_NAME); repeatable
  --param K=V           add or override a CGI param; repeatable
  --timeout MS          what each probe may take (default 1500)
  --only ID[,ID...]     run only these probes
  --list                print the catalogue: probe, spec section, vectors, what it sends
  --json                the report as JSON
  --verbose             the bytes the app sent back, per probe and connection

With --listen ADDR (host:port or a socket path) it answers every request with what it received and
prints, per request, what the web server sent: params records and their sizes, pairs split across
records, length encodings, request ids, KEEP_CONN, concurrent requests, stream ends, aborts, and the
inspector's findings (a 130-byte name with a one-byte length: ONE_BYTE_LONG_LENGTH). A query string
fcgi-conform=unknown-type, =values-result or =slow makes it send an unsolicited FCGI_UNKNOWN_TYPE or
FCGI_GET_VALUES_RESULT before its answer, or answer only after 10 s (close the browser to see how the
web server aborts).
  --requests N          exit after N requests, printing the summary (default: run until SIGINT/SIGTERM)
  --json                one JSON object per request, then the summary

exit status: 0 every probe passed or gave information, 1 a divergence, 3 a violation,
  ${EXIT.USAGE} bad usage, ${EXIT.CONNECT} cannot connect.`;

const EXIT_DIVERGENCE = 1;
const EXIT_VIOLATION = 3;

export async function conform(argv: string[]): Promise<number> {
  // The tester's modules load when it runs, not with the fcgi command: loaded in every fcgi process,
  // they put the gateway's peak RSS in a 1 GiB upload at 98 MiB instead of 86 (test/cli/proxy.test.ts).
  const [{ CATALOGUE }, { listen }, { textReport }, { runConformance }] = await Promise.all([
    import('./conform/catalogue.js'),
    import('./conform/listen.js'),
    import('./conform/report.js'),
    import('./conform/run.js'),
  ]);
  const args = parseArgs(argv, {
    booleans: ['json', 'verbose', 'list'],
    known: ['listen', 'root', 'script', 'path', 'header', 'param', 'timeout', 'only', 'requests'],
  });
  if (flag(args, 'list')) return list(CATALOGUE, flag(args, 'json'));
  const listenAt = one(args, 'listen');
  if (listenAt !== undefined) {
    if (args.positional.length > 0) throw new UsageError('--listen takes the address; give no ADDR beside it');
    return listen(listenAt, { requests: count(args, 'requests', 0), json: flag(args, 'json') });
  }
  const address = args.positional[0];
  if (args.positional.length !== 1 || !address) throw new UsageError('give one ADDR (host:port or a Unix socket path), or --listen ADDR');
  const timeout = count(args, 'timeout', 1500, 1);
  const only = one(args, 'only')?.split(',').map((s) => s.trim());
  const unknown = only?.filter((id) => !CATALOGUE.some((p) => p.id === id));
  if (unknown?.length) throw new UsageError(`no probe named ${unknown.join(', ')} (fcgi conform --list)`);
  const params = Object.entries(buildParams(args, one(args, 'path') ?? '/', undefined));

  let up: boolean;
  try {
    up = await reachable(address, timeout);
  } catch (e) {
    if (e instanceof FastCGIError) throw new UsageError(e.message);
    throw e;
  }
  if (!up) {
    process.stderr.write(`${styleFor(process.stderr).red('fcgi conform: CONNECT_FAILED')}: cannot connect to the FastCGI app at ${address}\n`);
    return EXIT.CONNECT;
  }
  const report = await runConformance(address, { timeout, params, ...(only ? { only } : {}) });
  if (flag(args, 'json')) console.log(JSON.stringify(report, null, 2));
  else console.log(textReport(report, styleFor(process.stdout), flag(args, 'verbose')));
  return report.counts.violation > 0 ? EXIT_VIOLATION : report.counts.divergence > 0 ? EXIT_DIVERGENCE : 0;
}

function list(catalogue: readonly Probe[], json: boolean): number {
  const rows = catalogue.map(({ id, spec, vectors, sends, says, meaning }) => ({ id, spec, vectors, sends, says, meaning }));
  if (json) console.log(JSON.stringify(rows, null, 2));
  else for (const r of rows) console.log(`${r.id.padEnd(20)} §${r.spec}${r.vectors.length ? `  [${r.vectors.join(' ')}]` : ''}\n  sends: ${r.sends}\n  says:  ${r.says}\n`);
  return 0;
}
