#!/usr/bin/env node
// The `fcgi` command: one binary, a subcommand per tool. Each command lives in its own file and
// registers here with its usage text; `fcgi CMD --help` prints that text.

import { decode, DECODE_USAGE } from './decode.js';
import { proxy, PROXY_USAGE } from './proxy.js';
import { request, REQUEST_USAGE } from './request.js';
import { probe, PROBE_USAGE } from './probe.js';
import { bench, BENCH_USAGE } from './bench.js';
import { inspectCommand, INSPECT_USAGE } from './inspect.js';
import { spawnCommand, SPAWN_USAGE } from './spawn.js';
import { conform, CONFORM_USAGE } from './conform.js';
import { UsageError } from './args.js';

interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): number | Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  proxy: { summary: 'an HTTP gateway in front of FastCGI apps (like nginx fastcgi_pass)', usage: PROXY_USAGE, run: proxy },
  request: { summary: 'send one request to a FastCGI app and print its response (like cgi-fcgi -connect)', usage: REQUEST_USAGE, run: request },
  probe: { summary: "ask a FastCGI app for its limits (FCGI_GET_VALUES), with a timeout", usage: PROBE_USAGE, run: probe },
  bench: { summary: 'load a FastCGI app directly: requests/s, latency percentiles, histogram', usage: BENCH_USAGE, run: bench },
  inspect: { summary: 'requests, responses and protocol findings in a capture (pcap, pcapng, raw, hex)', usage: INSPECT_USAGE, run: inspectCommand },
  spawn: { summary: 'run FastCGI app processes on a shared socket (a process manager)', usage: SPAWN_USAGE, run: spawnCommand },
  decode: { summary: 'list the FastCGI records in a byte stream', usage: DECODE_USAGE, run: decode },
  conform: { summary: 'conformance probes against a FastCGI app, or (--listen) what a web server sends', usage: CONFORM_USAGE, run: conform },
};

const USAGE = `usage: fcgi <command> [options]     (fcgi <command> --help for each)

${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  .join('\n')}`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(USAGE);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(`fcgi: unknown command '${name}'\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`fcgi ${name}: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(`fcgi: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
