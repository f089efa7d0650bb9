// The application side under memory attacks and churn, as a process (test/fixtures/apps/app.mjs in
// the runtime running this suite), its memory read from /proc: the partial-pair attack of issue 15
// (256 pairs of ~1 MB opened on one connection) and 100,000 connections opened and closed.
// Timings are asserted only as liveness (every request on another connection answered within 1 s: the
// attack starves nobody); the 10 ms bar is a measurement, printed here and reported in the README.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Encoder, RecordType, Role, Flags } from '../../src/codec/index.js';
import { RawClient } from './raw-client.js';
import { freePort, waitForPort } from '../peers/ports.js';
import { scriptArgv } from '../runtimes/runtime.js';

const APP = fileURLToPath(new URL('../fixtures/apps/app.mjs', import.meta.url));
const enc = new Encoder();
const started: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startApp(mode: 'tcp' | 'unix', where: string): Promise<{ child: ChildProcess; stderr: () => string }> {
  const [cmd, ...args] = scriptArgv(APP);
  const child = spawn(cmd!, [...args, mode, where], { stdio: ['ignore', 'ignore', 'pipe'] });
  started.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await waitForPort(mode === 'tcp' ? Number(where) : where, child, 'the app');
  return { child, stderr: () => err };
}

/** A field of /proc/PID/status in bytes (VmRSS: now; VmHWM: the peak). */
function procMemory(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Writes `parts` in order, waiting for the socket to drain; stops when it closes. */
async function writeAll(socket: Socket, parts: Iterable<Uint8Array>): Promise<void> {
  for (const p of parts) {
    if (socket.destroyed) return;
    if (!socket.write(p)) await new Promise<void>((resolve) => (socket.once('drain', resolve), socket.once('close', resolve)));
  }
}

/** The time one request on `client` takes to be answered, in ms. */
async function timed(client: RawClient, id: number): Promise<number> {
  const t0 = performance.now();
  const r = await client.request(id, { REQUEST_METHOD: 'GET', REQUEST_URI: '/hi' });
  expect(r.stdout.toString()).toContain('hello');
  return performance.now() - t0;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** A PARAMS record opening a pair whose value is declared `valueLength` bytes, with its first `n` bytes. */
function openPair(id: number, valueLength: number, n: number): Uint8Array {
  const body = new Uint8Array(n).fill(0x61);
  body.set([1, 0x80 | (valueLength >>> 24), (valueLength >>> 16) & 255, (valueLength >>> 8) & 255, valueLength & 255, 0x56]);
  return enc.record(RecordType.PARAMS, id, body);
}

describe('the application side under memory attacks', () => {
  it('closes a connection opening 256 partial pairs of ~1 MB with a typed error: peak RSS under 150 MB, other connections answered meanwhile', async () => {
    const port = await freePort();
    const { child, stderr } = await startApp('tcp', String(port));
    const other = await RawClient.connect(port);
    await timed(other, 1); // warm: the route and the connection are ready

    // 1. the attack of issue 15: 256 requests, each opening a pair of a little under 1 MiB (under
    // maxPairBytes), every request under maxParamsBytes, its bytes sent 65000 a record in turn; then
    // the same on request ids never begun, which the server ignores but the codec still has to walk
    const more = new Uint8Array(65000).fill(0x62);
    function* attack(begin: boolean): Generator<Uint8Array> {
      if (begin) for (let id = 1; id <= 256; id++) yield enc.beginRequest(id, Role.RESPONDER, Flags.KEEP_CONN);
      for (let id = 1; id <= 256; id++) yield openPair(id, 1_000_000, 65000);
      for (let round = 1; round < 15; round++) for (let id = 1; id <= 256; id++) yield enc.record(RecordType.PARAMS, id, more);
    }
    for (const begin of [true, false]) {
      const attacker = connect(port, '127.0.0.1');
      attacker.on('error', () => {});
      const closed = new Promise<void>((resolve) => attacker.once('close', () => resolve()));
      await new Promise<void>((resolve) => attacker.once('connect', () => resolve()));
      const logged = stderr().length;
      await writeAll(attacker, attack(begin));
      await closed;
      // the app logs why it closed the connection (its stderr may come a little after the close): with
      // requests begun, the params of the heads in progress may reach maxParamsBytes first
      const why = begin ? /closed a connection .*(PARTIAL_PAIRS_TOO_LARGE|PARAMS_TOO_LARGE)/ : /closed a connection .*PARTIAL_PAIRS_TOO_LARGE/;
      for (let i = 0; i < 100 && !why.test(stderr().slice(logged)); i++) await new Promise((r) => setTimeout(r, 20));
      expect(stderr().slice(logged)).toMatch(why);
    }
    const during: number[] = [];
    for (let i = 0; i < 5; i++) during.push(await timed(other, 2 + i));

    // 2. the same within the budget, kept up: 256 partial pairs open on one connection, each grown by
    // a few bytes in turn (an append to the oldest used to move all the newer ones), while the other
    // connection asks
    const holder = connect(port, '127.0.0.1');
    holder.on('error', () => {});
    await new Promise<void>((resolve) => holder.once('connect', () => resolve()));
    const opened: Uint8Array[] = [];
    for (let id = 1; id <= 256; id++) opened.push(enc.beginRequest(id, Role.RESPONDER, Flags.KEEP_CONN), openPair(id, 1_000_000, 1000));
    await writeAll(holder, opened);
    // one round: ten more bytes for each pair, the same bytes every round, a round every 2 ms
    const round = Buffer.concat(Array.from({ length: 256 }, (_, i) => enc.record(RecordType.PARAMS, i + 1, new Uint8Array(10).fill(0x63))));
    let rounds = 0;
    const grow = setInterval(() => {
      if (rounds++ < 250 && !holder.destroyed && holder.writableLength === 0) holder.write(round);
    }, 2);
    const held: number[] = [];
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 5)); // spread over the growth
      held.push(await timed(other, 10 + i));
    }
    clearInterval(grow);
    expect(rounds).toBeGreaterThan(20);
    expect(holder.destroyed).toBe(false); // within the budget, the connection goes on
    holder.destroy();

    const peak = procMemory(child.pid!, 'VmHWM');
    expect(peak, `peak RSS ${(peak / 1e6).toFixed(1)} MB`).toBeLessThan(150e6);
    console.log(`partial-pair attack: peak RSS ${(peak / 1e6).toFixed(1)} MB; another connection's requests, median ${median(during).toFixed(2)} ms after the attack and ${median(held).toFixed(2)} ms while 256 partial pairs grow`);
    expect(Math.max(...during), `after the attack: ${during.map((t) => t.toFixed(2)).join(', ')} ms`).toBeLessThan(1000);
    expect(Math.max(...held), `while 256 partial pairs grow: ${held.map((t) => t.toFixed(2)).join(', ')} ms`).toBeLessThan(1000);
    other.close();
  });

  it('keeps its RSS flat over 100,000 connections opened and closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-churn-'));
    dirs.push(dir);
    const path = join(dir, 'app.sock');
    const { child } = await startApp('unix', path);
    // one request per connection, no KEEP_CONN: the app closes once it answered
    const request = Buffer.concat([enc.beginRequest(1, Role.RESPONDER, 0), enc.pairs(1, { REQUEST_METHOD: 'GET', REQUEST_URI: '/hi' }), ...enc.stream(RecordType.STDIN, 1, new Uint8Array(0), true)]);
    let done = 0;
    let answered = 0;
    const one = (): Promise<void> =>
      new Promise((resolve) => {
        const s = connect(path);
        s.on('error', () => {});
        s.on('data', (d: Buffer) => {
          if (d.includes('hello')) answered++;
        });
        s.once('connect', () => s.write(request));
        s.once('close', () => {
          done++;
          resolve();
        });
      });
    const run = async (n: number): Promise<void> => {
      let left = n;
      const lane = async (): Promise<void> => {
        while (left > 0) {
          left--;
          await one();
        }
      };
      await Promise.all(Array.from({ length: 16 }, lane));
    };
    // warm: the JIT, the wasm heap's blocks, and the runtime's heap sizing (Deno's RSS grows for its
    // first ~30,000 connections even with a bare node:net server, then stays)
    await run(30_000);
    const before = procMemory(child.pid!, 'VmRSS');
    await run(100_000);
    const after = procMemory(child.pid!, 'VmRSS');
    expect(done).toBe(130_000);
    expect(answered).toBe(done);
    expect(after - before, `RSS ${(before / 1e6).toFixed(1)} MB after 30,000 connections, ${(after / 1e6).toFixed(1)} MB after 100,000 more`).toBeLessThan(16e6);
  }, 180_000);
});
