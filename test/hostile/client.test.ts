// Attacks on the Client, as a hostile or broken FastCGI app would make them: the victim is our Client
// (test/hostile/victims/client.mjs) in a child process; each attack is bounded in bytes and time; after
// it, the victim's normal request to a good app must be answered.

import { afterEach, describe, expect, it } from 'vitest';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Encoder, RecordType } from '../../src/codec/index.js';
import { createServer, type FcgiServer } from '../../src/server/index.js';
import { MiB, report, rssBar, startVictim, type Victim } from './victim.js';

const CLIENT = fileURLToPath(new URL('./victims/client.mjs', import.meta.url));
const enc = new Encoder();
const servers: (Server | FcgiServer)[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(() => r(undefined)))));
});

async function listen(server: Server | FcgiServer): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => (server as Server).listen({ port: 0, host: '127.0.0.1' }, () => r()));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** An app that answers each request with `attack(socket)`; bounded by the attack itself. */
function hostileApp(attack: (socket: Socket) => void): Promise<string> {
  return listen(
    createNetServer((s) => {
      s.on('error', () => {});
      s.once('data', () => attack(s));
    }),
  );
}

/** Writes `record` to `socket` as fast as it is taken, for at most `ms` and `maxBytes`, then `last`. */
function flood(socket: Socket, record: Uint8Array, ms: number, maxBytes: number, last?: Uint8Array): void {
  const until = Date.now() + ms;
  let sent = 0;
  const more = (): void => {
    while (!socket.destroyed && Date.now() < until && sent < maxBytes) {
      sent += record.length;
      if (!socket.write(record)) return void socket.once('drain', more);
    }
    if (last && !socket.destroyed) socket.write(last);
  };
  socket.once('close', () => (sent = maxBytes));
  more();
}

const ending = (body: string) => Buffer.concat([...enc.stream(RecordType.STDOUT, 1, Buffer.from(`Status: 200\r\nContent-Type: text/plain\r\n\r\n${body}`), true), enc.endRequest(1, 0)]);
const chunkOf = (type: number) => Buffer.concat(enc.stream(type, 1, Buffer.alloc(60 * 1024, 'x')));

async function attackWith(mode: string, hostile: string): Promise<{ v: Victim; result: { outcome: string; stderrSeen: number; normalMs: number; normal: string } }> {
  const good = await listen(createServer((_req, res) => res.end('good')));
  const v = await startVictim(CLIENT, [mode, hostile, good], '"normalMs"');
  const result = v.reports()[0] as { outcome: string; stderrSeen: number; normalMs: number; normal: string };
  expect(result.normal).toMatch(/good$/);
  expect(result.normalMs).toBeLessThan(1000);
  return { v, result };
}

describe('hostile apps against our Client', () => {
  it('an app that writes stderr without end during fetch(): nothing keeps it, every chunk reaches the stderr event', async () => {
    const app = await hostileApp((s) => flood(s, chunkOf(RecordType.STDERR), 3000, 1024 * MiB, ending('bye')));
    const { v, result } = await attackWith('fetch', app);
    report('client, endless STDERR during fetch()', v, [result.normalMs], `${(result.stderrSeen / MiB).toFixed(0)} MiB of stderr seen, then ${result.outcome}`);
    expect(result.outcome).toBe('3 body bytes');
    expect(result.stderrSeen).toBeGreaterThan(10 * MiB);
    expect(v.peakRss()).toBeLessThan(rssBar(150));
  });

  it('an app that writes stdout without end to call(): REPLY_TOO_LARGE at 64 MiB', async () => {
    const app = await hostileApp((s) => {
      s.write(enc.stream(RecordType.STDOUT, 1, Buffer.from('Status: 200\r\n\r\n'))[0]!);
      flood(s, chunkOf(RecordType.STDOUT), 10_000, 1024 * MiB);
    });
    const { v, result } = await attackWith('call', app);
    report('client, endless STDOUT to call()', v, [result.normalMs], result.outcome);
    expect(result.outcome).toBe('REPLY_TOO_LARGE');
    expect(v.peakRss()).toBeLessThan(rssBar(200));
  });

  it('an app that writes stdout without end to a request() nobody reads: the connection is paused', async () => {
    let sentBeforeCancel = 0;
    const app = await hostileApp((s) => {
      s.write(enc.stream(RecordType.STDOUT, 1, Buffer.from('Status: 200\r\n\r\n'))[0]!);
      const record = chunkOf(RecordType.STDOUT);
      const more = (): void => {
        while (!s.destroyed && sentBeforeCancel < 1024 * MiB) {
          sentBeforeCancel += record.length;
          if (!s.write(record)) return void s.once('drain', more);
        }
      };
      more();
    });
    const { v, result } = await attackWith('request', app);
    report('client, STDOUT to a request() never read', v, [result.normalMs], `${(sentBeforeCancel / MiB).toFixed(1)} MiB taken from the app in 3 s`);
    expect(result.outcome).toBe('cancelled after 3 s');
    expect(sentBeforeCancel).toBeLessThan(64 * MiB); // backpressure: the app could not send more than the buffers hold
    expect(v.peakRss()).toBeLessThan(rssBar(150));
  });

  it('an app that declares a 65,535-byte record and dribbles it: no buffer of that size, and a timeout ends it', async () => {
    const app = await hostileApp((s) => {
      const header = Buffer.from([1, RecordType.STDOUT, 0, 1, 0xff, 0xff, 0, 0]);
      s.write(header);
      const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : s.write(Buffer.from('a'))), 50);
      s.once('close', () => clearInterval(timer));
    });
    const { v, result } = await attackWith('trickle', app);
    report('client, a record dribbled a byte at a time', v, [result.normalMs], result.outcome);
    expect(result.outcome).toMatch(/^TIMEOUT_(FIRST_BYTE|IDLE|TOTAL)$/);
    expect(v.peakRss()).toBeLessThan(rssBar(150));
  });
});
