// `fcgi spawn`: runs a FastCGI application under the Manager, on a socket it holds open, like
// spawn-fcgi plus mod_fastcgi's process manager (static or dynamic, restarts, rolling restarts).

import { Manager, type ManagerOptions } from '../manager/manager.js';
import { all, one, parseArgs, UsageError, type Parsed } from './args.js';

export const SPAWN_USAGE = `usage: fcgi spawn [--socket PATH [--mode 0660] | --listen HOST:PORT] [--backlog N]
                  [--processes N | --min N --max N] [--env NAME[=VALUE]]... [--cwd DIR]
                  [--watch FILE]... [--restart-delay MS] [--min-lifetime MS] [--max-restart-delay MS]
                  [--start-delay MS] [--idle-timeout MS] [--grace MS] [--stop-signal SIG] [--json]
                  -- CMD ARGS...

Starts CMD with the listening socket as its fd 0 (any FastCGI app: php-cgi, fcgi2 C apps, Perl FCGI,
fcgi-wasm apps) and keeps it running: --processes N of them (default 1), or between --min and --max,
growing when connections wait in the accept queue longer than --start-delay and stopping processes
idle past --idle-timeout. A process that dies is replaced after --restart-delay; one that dies younger
than --min-lifetime backs off exponentially up to --max-restart-delay.
The environment is cleared: --env NAME passes a variable through, NAME= sets it empty, NAME=value sets it.
SIGHUP or a change to a --watch file: rolling restart (new processes first; no connection is refused).
SIGTERM/SIGINT: --stop-signal (default SIGTERM) to every process, KILL after --grace ms, socket removed.
Default --listen 127.0.0.1:0 (a free port, printed). --json prints events as JSON lines.`;

/** The Manager options the spawn flags describe (shared with `fcgi proxy --spawn`). */
export function managerOptions(args: Parsed, command: string[]): ManagerOptions {
  if (command.length === 0) throw new UsageError('no command: fcgi spawn [options] -- CMD ARGS...');
  const num = (name: string): number | undefined => {
    const v = one(args, name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UsageError(`--${name} takes a whole number, got ${v}`);
    return Number(v);
  };
  const options: ManagerOptions = {
    command: command[0]!,
    args: command.slice(1),
    backlog: num('backlog'),
    env: all(args, 'env'),
    cwd: one(args, 'cwd'),
    watch: all(args, 'watch'),
    restartDelay: num('restart-delay'),
    minLifetime: num('min-lifetime'),
    maxRestartDelay: num('max-restart-delay'),
    startDelay: num('start-delay'),
    idleTimeout: num('idle-timeout'),
    gracePeriod: num('grace'),
  };
  const stopSignal = one(args, 'stop-signal');
  if (stopSignal !== undefined) {
    const name = (stopSignal.startsWith('SIG') ? stopSignal : `SIG${stopSignal}`).toUpperCase();
    if (!/^SIG[A-Z0-9]+$/.test(name)) throw new UsageError(`--stop-signal takes a signal name, got ${stopSignal}`);
    options.stopSignal = name as NodeJS.Signals;
  }
  const socket = one(args, 'socket');
  const listen = one(args, 'listen');
  if (socket !== undefined && listen !== undefined) throw new UsageError('--socket and --listen: choose one');
  if (socket !== undefined) {
    options.socket = socket;
    const mode = one(args, 'mode');
    if (mode !== undefined) {
      if (!/^0?[0-7]{3}$/.test(mode)) throw new UsageError(`--mode takes an octal file mode like 0660, got ${mode}`);
      options.socketMode = parseInt(mode, 8);
    }
  } else if (listen !== undefined) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
    if (!m) throw new UsageError(`--listen takes HOST:PORT (or [::1]:PORT), got ${listen}`);
    options.host = m[1] ?? m[2]!;
    options.port = Number(m[3]);
  }
  const processes = num('processes');
  const min = num('min');
  const max = num('max');
  if (processes !== undefined && (min !== undefined || max !== undefined)) throw new UsageError('--processes (static) or --min/--max (dynamic): choose one');
  if (min !== undefined && max === undefined) throw new UsageError('--min needs --max');
  if (max !== undefined) {
    options.max = max;
    options.min = min ?? 1;
    if (options.min > max || max < 1) throw new UsageError(`need --min <= --max and --max >= 1, got ${options.min} and ${max}`);
  } else if (processes !== undefined) {
    if (processes < 1) throw new UsageError('--processes must be at least 1');
    options.processes = processes;
  }
  return options;
}

/** Prints the manager's log (or its events as JSON lines) to stderr. */
export function reportManager(manager: Manager, json: boolean): void {
  if (!json) {
    manager.on('log', (line: string) => process.stderr.write(`${line}\n`));
    return;
  }
  const out = (event: string, data: unknown) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), event, ...(typeof data === 'object' ? data : { data }) })}\n`);
  for (const event of ['spawn', 'exit', 'restart', 'scale', 'stopped']) manager.on(event, (data: unknown) => out(event, data ?? {}));
  manager.on('ready', (address: string) => out('ready', { address }));
  manager.on('log', (line: string) => out('log', { line }));
}

export async function spawnCommand(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  if (dash < 0) throw new UsageError('no command: fcgi spawn [options] -- CMD ARGS...');
  const args = parseArgs(argv.slice(0, dash), ['json']);
  if (args.positional.length > 0) throw new UsageError(`unexpected ${args.positional[0]} before --`);
  const json = one(args, 'json') === 'true';
  const manager = new Manager(managerOptions(args, argv.slice(dash + 1)));
  reportManager(manager, json);
  let done!: (code: number) => void;
  const finished = new Promise<number>((r) => (done = r));
  manager.handleSignals(done);
  await manager.start();
  if (!json) process.stderr.write(`fcgi spawn: ${manager.targetProcesses} process(es) of ${argv[dash + 1]} on ${manager.address}\n`);
  return finished;
}
