// A FastCGI app process that listens on the address given as its last argument: started on a free
// 127.0.0.1 port (or a Unix socket path), waited for until it accepts, stopped by its pid.

import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { freePort, waitForPort } from './ports.js';

export interface AppProcess {
  /** "127.0.0.1:PORT" or the socket path, as Client's `address` takes it */
  address: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `command args... ADDRESS` and waits until it listens on ADDRESS. */
export async function startAppProcess(name: string, command: string, args: string[], options: { socketPath?: string; env?: Record<string, string> } = {}): Promise<AppProcess> {
  const address = options.socketPath ?? `127.0.0.1:${await freePort()}`;
  const child = spawn(command, [...args, address], { stdio: 'ignore', ...(options.env ? { env: options.env } : {}) });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(options.socketPath ?? Number(address.split(':')[1]), child, name);
  return {
    address,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      if (options.socketPath) rmSync(options.socketPath, { force: true });
    },
  };
}
