// Manager: runs FastCGI application processes on one shared listening socket passed as their fd 0 (as
// the spec, spawn-fcgi and mod_fastcgi's process manager do), so any FastCGI app works: ours, php-cgi,
// fcgi2 C apps, Perl FCGI scripts. Static mode keeps N processes; dynamic mode grows on a waiting accept
// queue and shrinks on idle processes. Restarts back off on processes that die young. Rolling restarts
// start the new processes before retiring the old, and the socket never closes, so no connection is
// refused. Events: 'spawn', 'exit', 'restart', 'scale', 'log', 'ready', 'stopped'.

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants as fsConstants, unwatchFile, watchFile } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { initialEnv } from './initial-env.js';
import { openListeningSocket, type ListeningSocket } from './listen-socket.js';
import { cpuTicks, socketInode, tcpAcceptQueue, unixAcceptQueue } from './proc-stats.js';

export interface ManagerOptions {
  command: string;
  args?: string[];
  /** A Unix socket path; else TCP on `host`:`port` (default 127.0.0.1, port 0 = a free one). */
  socket?: string;
  host?: string;
  port?: number;
  backlog?: number;
  /** Unix socket file mode, e.g. 0o660. */
  socketMode?: number;
  /** Static mode: this many processes (default 1). */
  processes?: number;
  /** Dynamic mode (when `max` is set): between `min` (default 1) and `max` processes. */
  min?: number;
  max?: number;
  /** The children's environment as -initial-env rules: NAME (pass through), NAME= (empty), NAME=value. */
  env?: string[];
  cwd?: string;
  /** Milliseconds before a dead process is replaced (default 100). */
  restartDelay?: number;
  /** A process that failed (not exit code 0) within this many ms (default 1000) counts a strike; strikes double the delay... */
  minLifetime?: number;
  /** ...up to this many ms (default 30000). */
  maxRestartDelay?: number;
  /** Dynamic: grow when connections have waited in the accept queue this long (ms, default 300). */
  startDelay?: number;
  /** Dynamic: stop a process whose CPU time has not moved for this long (ms, default 10000). */
  idleTimeout?: number;
  /** How often the queue and CPU times are read (ms, default 100). */
  pollInterval?: number;
  /** Stop: ms between TERM and KILL (default 5000). */
  gracePeriod?: number;
  /** The signal that asks a process to finish its requests and exit (default SIGTERM). */
  stopSignal?: NodeJS.Signals;
  /** Rolling restart: ms the new processes get to start before the old ones are asked to exit (default 300). */
  overlap?: number;
  /** Files whose mtime change triggers a rolling restart (mod_fastcgi's autoUpdate). */
  watch?: string[];
}

export interface ManagedProcess {
  pid: number;
  startedAt: number;
  /** running: counted toward the target; retiring: asked to exit (rolling restart, scale down, stop). */
  state: 'running' | 'retiring';
}

interface Entry extends ManagedProcess {
  child: ChildProcess;
  cpu: number;
  cpuMovedAt: number;
  exited: Promise<void>;
  killTimer?: NodeJS.Timeout;
}

export interface ExitInfo {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ms the process lived */
  lifetime: number;
  /** "exit code 1", "signal SIGKILL", ... */
  reason: string;
  /** false when the manager asked it to exit */
  unexpected: boolean;
}

export class Manager extends EventEmitter {
  readonly options: ManagerOptions;
  private socket: ListeningSocket | null = null;
  private readonly entries = new Map<number, Entry>();
  private target: number;
  private readonly dynamic: boolean;
  private strikes = 0;
  private pendingStarts = 0;
  private stopping: Promise<void> | null = null;
  private poller: NodeJS.Timeout | null = null;
  private queueSince: number | null = null;
  private polling = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly command: string;
  private readonly env: Record<string, string>;
  private signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  /** Processes started since start(), replacements included. */
  spawnCount = 0;

  constructor(options: ManagerOptions) {
    super();
    this.options = options;
    this.dynamic = options.max !== undefined;
    const min = options.min ?? 1;
    if (this.dynamic && (min < 0 || options.max! < Math.max(1, min))) throw new RangeError(`dynamic mode needs 0 <= min <= max and max >= 1; got min ${min}, max ${options.max}`);
    if (!this.dynamic && (options.processes ?? 1) < 1) throw new RangeError(`processes must be at least 1; got ${options.processes}`);
    this.target = this.dynamic ? min : (options.processes ?? 1);
    this.command = resolveCommand(options.command);
    this.env = initialEnv(options.env ?? []);
  }

  /** The address web servers connect to: "HOST:PORT" or the socket path. */
  get address(): string {
    if (!this.socket) throw new Error('the manager has not started');
    return this.socket.address;
  }

  /** The processes now alive (running and retiring). */
  get processes(): ManagedProcess[] {
    return [...this.entries.values()].map(({ pid, startedAt, state }) => ({ pid, startedAt, state }));
  }

  /** Running processes (the ones counted toward the target). */
  get running(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.state === 'running') n++;
    return n;
  }

  get targetProcesses(): number {
    return this.target;
  }

  async start(): Promise<this> {
    const o = this.options;
    this.socket = await openListeningSocket(o.socket !== undefined ? { path: o.socket, backlog: o.backlog, mode: o.socketMode } : { host: o.host, port: o.port, backlog: o.backlog });
    for (let i = 0; i < this.target; i++) this.spawnOne();
    if (this.dynamic) {
      this.poller = setInterval(() => void this.poll(), o.pollInterval ?? 100);
      this.poller.unref();
    }
    for (const file of o.watch ?? []) {
      watchFile(file, { interval: 250 }, (now, before) => {
        if (now.mtimeMs !== before.mtimeMs) {
          this.log(`manager: ${file} changed; rolling restart`);
          void this.rollingRestart();
        }
      });
    }
    this.emit('ready', this.address);
    return this;
  }

  /** SIGTERM/SIGINT: stop() then exit; SIGHUP: rolling restart. For the `fcgi spawn` command. */
  handleSignals(exit: (code: number) => void = (code) => process.exit(code)): this {
    const stop = (signal: string) => () => {
      this.log(`manager: ${signal}: stopping ${this.entries.size} process(es)`);
      void this.stop().then(() => exit(0));
    };
    const hup = () => {
      this.log('manager: SIGHUP: rolling restart');
      void this.rollingRestart();
    };
    this.signalHandlers = [['SIGTERM', stop('SIGTERM')], ['SIGINT', stop('SIGINT')], ['SIGHUP', hup]];
    for (const [signal, handler] of this.signalHandlers) process.on(signal, handler);
    return this;
  }

  /**
   * Starts a new process for every running one, waits `overlap` ms, then asks the old ones to exit
   * (stopSignal, KILL after gracePeriod). Resolves when the old ones are gone.
   */
  async rollingRestart(): Promise<void> {
    if (this.stopping) return;
    const old = [...this.entries.values()].filter((e) => e.state === 'running');
    for (let i = 0; i < old.length; i++) this.spawnOne();
    await this.sleep(this.options.overlap ?? 300);
    if (this.stopping) return this.stopping;
    this.emit('restart', { old: old.map((e) => e.pid), new: [...this.entries.values()].filter((e) => !old.includes(e)).map((e) => e.pid) });
    await Promise.all(old.map((e) => this.retire(e)));
  }

  /** Asks every process to exit (stopSignal, then KILL after gracePeriod), closes and removes the socket. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      if (this.poller) clearInterval(this.poller);
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      for (const file of this.options.watch ?? []) unwatchFile(file);
      for (const [signal, handler] of this.signalHandlers) process.off(signal, handler);
      await Promise.all([...this.entries.values()].map((e) => this.retire(e)));
      this.socket?.close();
      this.emit('stopped');
    })();
    return this.stopping;
  }

  private retire(entry: Entry): Promise<void> {
    if (entry.state !== 'retiring') {
      entry.state = 'retiring';
      entry.child.kill(this.options.stopSignal ?? 'SIGTERM');
      entry.killTimer = setTimeout(() => {
        this.log(`manager: [${entry.pid}] still running ${this.options.gracePeriod ?? 5000} ms after ${this.options.stopSignal ?? 'SIGTERM'}; KILL`);
        entry.child.kill('SIGKILL');
      }, this.options.gracePeriod ?? 5000);
    }
    return entry.exited;
  }

  private spawnOne(): void {
    if (this.stopping || !this.socket) return;
    const child = spawn(this.command, this.options.args ?? [], {
      stdio: [this.socket.fd, 'pipe', 'pipe'],
      env: this.env,
      cwd: this.options.cwd,
    });
    if (child.pid === undefined) {
      // spawn failed (ENOENT, EACCES): 'error' follows; count it as a process that died at once
      child.once('error', (err) => {
        this.log(`manager: could not start ${this.command}: ${err.message}`);
        this.strikes++;
        this.scheduleReplacement(0);
      });
      return;
    }
    const pid = child.pid;
    const now = Date.now();
    const entry: Entry = {
      pid,
      child,
      startedAt: now,
      state: 'running',
      cpu: 0,
      cpuMovedAt: now,
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    this.entries.set(pid, entry);
    this.spawnCount++;
    for (const stream of [child.stdout!, child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) this.log(`[${pid}] ${line}`);
      });
      stream.on('end', () => partial && this.log(`[${pid}] ${partial}`));
    }
    child.once('exit', (code, signal) => this.exited(entry, code, signal));
    this.emit('spawn', { pid });
  }

  private exited(entry: Entry, code: number | null, signal: NodeJS.Signals | null): void {
    clearTimeout(entry.killTimer);
    this.entries.delete(entry.pid);
    const lifetime = Date.now() - entry.startedAt;
    const reason = signal ? `signal ${signal}` : `exit code ${code}`;
    const unexpected = entry.state === 'running';
    const info: ExitInfo = { pid: entry.pid, code, signal, lifetime, reason, unexpected };
    this.log(`manager: [${entry.pid}] ${unexpected ? 'died' : 'exited'} (${reason}) after ${lifetime} ms`);
    this.emit('exit', info);
    if (!unexpected || this.stopping) return;
    // exit code 0 is a clean exit asking to be replaced (exitAfterRequests, restartOnChange): no strike
    if (lifetime < (this.options.minLifetime ?? 1000) && !(code === 0 && signal === null)) this.strikes++;
    else this.strikes = 0;
    this.scheduleReplacement(lifetime);
  }

  private scheduleReplacement(lifetime: number): void {
    const base = this.options.restartDelay ?? 100;
    const delay = this.strikes === 0 ? base : Math.min(base * 2 ** this.strikes, this.options.maxRestartDelay ?? 30_000);
    if (this.strikes > 0) this.log(`manager: process lived ${lifetime} ms (strike ${this.strikes}); restarting in ${delay} ms`);
    this.pendingStarts++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.pendingStarts--;
      if (this.running + this.pendingStarts < this.target) {
        this.spawnOne();
        this.emit('restart', { delay, strikes: this.strikes });
      }
    }, delay);
    this.timers.add(timer);
  }

  /** Dynamic mode: grow when the accept queue has stayed non-empty for startDelay; shrink idle processes. */
  private async poll(): Promise<void> {
    if (this.polling || this.stopping || !this.socket) return;
    this.polling = true;
    try {
      const now = Date.now();
      const waiting = await this.acceptQueue();
      if (waiting !== null && waiting > 0) {
        this.queueSince ??= now;
        if (now - this.queueSince >= (this.options.startDelay ?? 300) && this.target < this.options.max!) {
          this.setTarget(this.target + 1, `${waiting} connection(s) waited ${now - this.queueSince} ms in the accept queue`);
          this.spawnOne();
          this.queueSince = now;
        }
      } else this.queueSince = null;
      const idleTimeout = this.options.idleTimeout ?? 10_000;
      for (const e of this.entries.values()) {
        const cpu = cpuTicks(e.pid);
        if (cpu === null) continue;
        if (cpu !== e.cpu) {
          e.cpu = cpu;
          e.cpuMovedAt = now;
        } else if (e.state === 'running' && now - e.cpuMovedAt >= idleTimeout && this.target > (this.options.min ?? 1) && !waiting) {
          this.setTarget(this.target - 1, `[${e.pid}] idle for ${now - e.cpuMovedAt} ms`);
          void this.retire(e);
        }
      }
    } finally {
      this.polling = false;
    }
  }

  /** Connections waiting in the kernel's accept queue (null when Linux does not tell us). */
  acceptQueue(): Promise<number | null> {
    if (!this.socket) return Promise.resolve(null);
    if (this.socket.path !== undefined) return unixAcceptQueue(this.socket.path);
    const inode = socketInode(this.socket.fd);
    return Promise.resolve(inode === null ? null : tcpAcceptQueue(inode));
  }

  private setTarget(to: number, reason: string): void {
    this.log(`manager: scale ${this.target} -> ${to}: ${reason}`);
    this.emit('scale', { from: this.target, to, reason });
    this.target = to;
  }

  private log(line: string): void {
    this.emit('log', line);
  }

  /** A pause that stop() does not cancel (a rolling restart waiting on it then finds the manager stopping). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
  }
}

/** The command's path, looked up on the manager's own PATH (the children's environment may have none). */
function resolveCommand(command: string): string {
  if (command.includes('/')) return command;
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const candidate = isAbsolute(dir) ? join(dir, command) : join(process.cwd(), dir, command);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return command;
}
