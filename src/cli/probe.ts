// `fcgi probe`: FCGI_GET_VALUES to an app, with a timeout: what it answered (FCGI_MAX_CONNS,
// FCGI_MAX_REQS, FCGI_MPXS_CONNS), or that it did not. The same request the client pool sends.

import { getValues, VALUE_NAMES } from '../client/get-values.js';
import { FastCGIError } from '../codec/errors.js';
import { count, flag, parseArgs, UsageError } from './args.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { styleFor } from './style.js';

export const PROBE_USAGE = `usage: fcgi probe ADDR [--timeout MS] [--json]

Asks the FastCGI app at ADDR (host:port, [v6]:port or a Unix socket path) for FCGI_MAX_CONNS,
FCGI_MAX_REQS and FCGI_MPXS_CONNS (FCGI_GET_VALUES) and waits at most --timeout ms (default 1000).
Apps need not answer: fcgi2 (libfcgi) reads no management record before a request begins, so
"no answer" says the app is up but silent, not that it is broken.

exit status: 0 the app answered, 1 it did not answer (silent until the timeout, or it closed the
  connection), ${EXIT.USAGE} bad usage, ${EXIT.CONNECT} cannot connect, ${EXIT.TIMEOUT} connecting timed out.`;

const MEANING: Record<string, (v: string) => string> = {
  FCGI_MAX_CONNS: (v) => `at most ${v} connections at once`,
  FCGI_MAX_REQS: (v) => `at most ${v} requests at once`,
  FCGI_MPXS_CONNS: (v) => (v === '1' ? 'multiplexes requests on a connection' : 'one request per connection at a time'),
};

export async function probe(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { booleans: ['json'], known: ['timeout'] });
  const address = args.positional[0];
  if (args.positional.length !== 1 || !address) throw new UsageError('give one ADDR (host:port or a Unix socket path)');
  const timeout = count(args, 'timeout', 1000, 1);
  const json = flag(args, 'json');
  const s = styleFor(process.stdout);
  let answer;
  try {
    answer = await getValues(address, { timeout });
  } catch (e) {
    if (!(e instanceof FastCGIError)) throw e;
    if (json) console.log(JSON.stringify({ address, answered: false, error: { code: e.code, message: e.message } }, null, 2));
    else process.stderr.write(`${styleFor(process.stderr).red(`fcgi probe: ${e.code}`)}: ${e.message}\n`);
    return exitCodeFor(e);
  }
  const ms = Math.round(answer.ms * 10) / 10;
  if (json) {
    console.log(JSON.stringify({ address, answered: answer.answered, values: answer.values, silence: answer.silence, error: answer.error && { code: answer.error.code, message: answer.error.message }, ms, timeout }, null, 2));
    return answer.answered ? 0 : 1;
  }
  if (answer.answered) {
    console.log(`${s.green('answered')} FCGI_GET_VALUES in ${ms} ms (${address}):`);
    for (const name of [...VALUE_NAMES, ...Object.keys(answer.values).filter((n) => !VALUE_NAMES.includes(n))]) {
      const v = answer.values[name];
      console.log(`  ${name.padEnd(16)} ${v === undefined ? s.dim('(not given)') : `${s.bold(v.padEnd(6))} ${s.dim(MEANING[name]?.(v) ?? '')}`}`);
    }
    return 0;
  }
  const why =
    answer.silence === 'timeout'
      ? `no answer to FCGI_GET_VALUES within ${timeout} ms`
      : answer.silence === 'protocol-error'
        ? `no answer to FCGI_GET_VALUES: the app broke the protocol (${answer.error?.message})`
        : `no answer to FCGI_GET_VALUES: the app closed the connection after ${ms} ms`;
  console.log(`${s.yellow('silent')}: ${why} (${address}).
The app accepted the connection, so it is up; it does not answer management records (fcgi2's libfcgi
reads none before a request begins). Clients must assume one request per connection.`);
  return 1;
}
