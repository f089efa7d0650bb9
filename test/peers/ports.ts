// Ports for the peers the tests start: a free 127.0.0.1 port, and waiting until a started peer listens.

import { connect, createServer } from 'node:net';
import type { ChildProcess } from 'node:child_process';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:port (or a Unix socket path) accepts; fails early if `child` exits first. */
export async function waitForPort(where: number | string, child: ChildProcess, name = 'the peer'): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited with ${child.exitCode ?? child.signalCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = typeof where === 'number' ? connect(where, '127.0.0.1') : connect(where);
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${name} did not start listening on ${where}`);
}
