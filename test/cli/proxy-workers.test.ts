// `fcgi proxy --workers 2`: the gateway in two processes on one port (node:cluster), a dead one
// replaced, all stopped by SIGTERM. Not run under Deno (vitest.runtimes.config.ts says why).

import { describe, expect, it, onTestFailed } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { startProxy } from './start-proxy.js';

describe('fcgi proxy --workers', () => {
  it('--workers 2: two gateway processes on one port, a dead one replaced, all stopped by SIGTERM', async () => {
    const { base, child, out } = await startProxy(["--workers", "2"]);
    onTestFailed(() => console.log(out()));
    const workers = (): number[] =>
      readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .filter((pid) => {
          try {
            return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === child.pid;
          } catch {
            return false; // gone meanwhile
          }
        })
        .map(Number);
    // each request bounded: a hang fails here, with what it was waiting for
    const fetchAll = async (n: number): Promise<(number | string)[]> =>
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          fetch(`${base}/w${i}`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(10_000) }).then(
            async (r) => (await r.text(), r.status),
            (e: Error) => `request ${i}: ${e.name} ${e.message}`,
          ),
        ),
      );
    expect(workers()).toHaveLength(2);
    expect(await fetchAll(40)).toEqual(Array(40).fill(200));
    const [first] = workers();
    process.kill(first!, 'SIGKILL');

    let now = workers();
    for (let i = 0; i < 60 && !(now.length === 2 && !now.includes(first!)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      now = workers(); // one reading per turn: the killed one may be reaped between two
    }
    expect(now).toHaveLength(2);
    expect(now).not.toContain(first);
    expect(await fetchAll(20)).toEqual(Array(20).fill(200));
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid!, 'SIGTERM'); // by pid, as above
    expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('no exit within 10 s of SIGTERM'), 10_000))])).toBe(0);
    expect(workers()).toEqual([]);
  });

});
