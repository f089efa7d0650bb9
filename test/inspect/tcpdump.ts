// Captures made by the tests themselves: tcpdump (Debian) on loopback with a filter on the test's own
// ports, started before the traffic, stopped by its pid with SIGINT once the traffic is done.

import { spawn } from 'node:child_process';

export interface Capture {
  /** Stops tcpdump (SIGINT, by pid) and waits for it to write the file and exit. */
  stop(): Promise<void>;
}

/** `iface` lo gives Ethernet framing; any gives Linux cooked (SLL2, or SLL with extra ['-y', 'LINUX_SLL']). */
export async function startTcpdump(file: string, filter: string, iface = 'lo', extra: string[] = []): Promise<Capture> {
  const child = spawn('tcpdump', ['-i', iface, '-U', '--immediate-mode', '-B', '65536', '-Z', 'root', '-w', file, ...extra, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited with ${code}: ${err}`));
    });
  });
  return {
    async stop() {
      // the last packets may still sit in the kernel's buffer: give tcpdump a moment to read them
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
