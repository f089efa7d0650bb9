// Attacks on the application side, as a hostile or broken web server would make them: the victim is
// our server (test/hostile/victims/app.mjs) in a child process with its defaults, and after (or during)
// each attack a normal request on a fresh connection must be answered.

import { describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Encoder, Flags, RecordType, Role } from '../../src/codec/index.js';
import { RawClient, parseCgi } from '../server/raw-client.js';
import { freePort } from '../peers/ports.js';
import { MiB, report, rssBar, sleep, startVictim, timeNormal, type Victim } from './victim.js';

const APP = fileURLToPath(new URL('./victims/app.mjs', import.meta.url));
const enc = new Encoder();

async function victim(options: Record<string, unknown> = {}): Promise<{ v: Victim; port: number }> {
  const port = await freePort();
  const v = await startVictim(APP, [String(port)], 'listening', { VICTIM_OPTIONS: JSON.stringify(options) });
  return { v, port };
}

/** A normal request on a fresh connection: "ok" or it throws. */
async function normal(port: number): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    const r = await c.request(1, { REQUEST_URI: '/', REQUEST_METHOD: 'GET' });
    if (r.protocolStatus !== 0 || parseCgi(r.stdout).body !== 'ok') throw new Error(`a normal request got ${JSON.stringify(r)}`);
  } finally {
    c.close();
  }
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Opens `count` connections, in batches; each is given `first` bytes (if any) and then held. */
async function hold(port: number, count: number, first?: Uint8Array): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => open(port)));
    for (const s of batch) {
      s.on('error', () => {});
      if (first) s.write(first);
    }
    sockets.push(...batch);
  }
  return sockets;
}

/**
 * Writes `chunk` over and over to `socket` as fast as it takes it, for at most `ms` ms and `maxBytes`
 * bytes (or until the victim closes it). Resolves with the bytes handed to the socket.
 */
function flood(socket: Socket, chunk: Uint8Array, ms: number, maxBytes: number): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(sent);
    };
    const timer = setTimeout(finish, ms);
    socket.on('close', finish).on('error', () => {});
    const more = (): void => {
      while (!done && sent < maxBytes) {
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', more);
      }
      finish();
    };
    more();
  });
}

const head = (id: number, uri: string, role: number = Role.RESPONDER) =>
  Buffer.concat([enc.beginRequest(id, role, Flags.KEEP_CONN), enc.pairs(id, { REQUEST_URI: uri, REQUEST_METHOD: 'POST' })]);
const stdinEnd = (id: number) => Buffer.concat(enc.stream(RecordType.STDIN, id, new Uint8Array(0), true));
/** 64 KiB of STDIN (or DATA) records for request `id`. */
const streamChunk = (type: number, id: number) => Buffer.concat(enc.stream(type, id, Buffer.alloc(64 * 1024 - 8 * 2, 'a')));

describe('hostile web servers against our application side (defaults)', () => {
  it('2,000 idle connections: new ones take their places, and normal requests are answered during the attack', async () => {
    const { v, port } = await victim();
    const idle = await hold(port, 2000);
    const times = await timeNormal(50, 1000, () => normal(port));
    report('server, 2,000 idle TCP connections', v, times);
    idle.forEach((s) => s.destroy());
    expect(v.peakRss()).toBeLessThan(rssBar(200));
  });

  it('2,000 connections holding a request head incomplete (slow loris): answered during the attack too', async () => {
    const { v, port } = await victim();
    const partial = head(1, '/').subarray(0, 20);
    const loris = await hold(port, 2000, partial);
    const times = await timeNormal(50, 1000, () => normal(port));
    report('server, 2,000 connections with a partial request head', v, times);
    loris.forEach((s) => s.destroy());
    expect(v.peakRss()).toBeLessThan(rssBar(200));
  });

  it('STDIN flood for a request queued behind another on its id: held to maxBodyBuffer (1 MiB), the socket paused', async () => {
    const { v, port } = await victim();
    const s = await open(port);
    s.write(Buffer.concat([head(1, '/hold?ms=20000'), stdinEnd(1), head(1, '/')]));
    const sent = await flood(s, streamChunk(RecordType.STDIN, 1), 3000, 1024 * MiB);
    const times = await timeNormal(5, 1000, () => normal(port));
    report('server, STDIN for a queued pipelined request', v, times, `${(sent / MiB).toFixed(0)} MiB handed to the socket in 3 s`);
    s.destroy();
    expect(v.peakRss()).toBeLessThan(rssBar(150));
  });

  it('STDIN flood for a started request whose handler reads none of it: held to maxBodyBuffer, the socket paused', async () => {
    const { v, port } = await victim();
    const s = await open(port);
    s.write(head(1, '/ignore-body?ms=20000'));
    const sent = await flood(s, streamChunk(RecordType.STDIN, 1), 3000, 1024 * MiB);
    const times = await timeNormal(5, 1000, () => normal(port));
    report('server, STDIN for a handler that never reads it', v, times, `${(sent / MiB).toFixed(0)} MiB handed to the socket in 3 s`);
    s.destroy();
    expect(v.peakRss()).toBeLessThan(rssBar(150));
  });

  it('DATA flood for a Filter whose handler reads none of it: held to maxBodyBuffer, the socket paused', async () => {
    const { v, port } = await victim();
    const s = await open(port);
    s.write(Buffer.concat([head(1, '/ignore-body?ms=20000', Role.FILTER), stdinEnd(1)]));
    const sent = await flood(s, streamChunk(RecordType.DATA, 1), 3000, 1024 * MiB);
    const times = await timeNormal(5, 1000, () => normal(port));
    report('server, FCGI_DATA for a Filter that never reads it', v, times, `${(sent / MiB).toFixed(0)} MiB handed to the socket in 3 s`);
    s.destroy();
    expect(v.peakRss()).toBeLessThan(rssBar(150));
  });

  it('a web server that sends its whole request, then half-closes: the request is answered, then the connection closes', async () => {
    const { v, port } = await victim();
    const s = await open(port);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    const closed = new Promise<void>((r) => s.once('end', () => r()));
    s.end(Buffer.concat([head(1, '/hold?ms=100'), stdinEnd(1)])); // FIN right after the request
    await closed;
    const records = [...decodeAll(Buffer.concat(got))];
    expect(parseCgi(Buffer.concat(records.filter((r) => r.type === RecordType.STDOUT).map((r) => r.content))).body).toBe('held');
    expect(records.at(-1)!.type).toBe(RecordType.END_REQUEST);
    report('server, half-close after a complete request', v, await timeNormal(5, 1000, () => normal(port)));
    expect(v.peakRss()).toBeLessThan(rssBar(200));
  });

  it('management records and refused BEGINs from a peer that never reads the answers: the victim stops reading it', async () => {
    const { v, port } = await victim();
    const getValues = Buffer.concat(Array.from({ length: 1000 }, () => enc.getValues(['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS'])));
    const s = await open(port);
    s.pause(); // never reads what the victim answers
    const sent = await flood(s, getValues, 3000, 1024 * MiB);
    const b = await open(port);
    b.pause();
    // 65,535 BEGIN_REQUESTs: 100 are taken (maxRequests), every other one is answered OVERLOADED
    const begins = Buffer.concat(Array.from({ length: 65535 }, (_, i) => enc.beginRequest(i + 1, Role.RESPONDER, Flags.KEEP_CONN)));
    const beginsSent = await flood(b, begins, 3000, begins.length);
    const times = await timeNormal(5, 1000, () => normal(port));
    report('server, GET_VALUES and 65,535 BEGINs never read back', v, times, `${(sent / MiB).toFixed(0)} MiB of GET_VALUES and ${(beginsSent / MiB).toFixed(1)} MiB of BEGINs handed to the sockets`);
    s.destroy();
    b.destroy();
    expect(v.peakRss()).toBeLessThan(rssBar(150));
  });

  it('an ABORT_REQUEST storm on one connection: answered, and other requests unharmed', async () => {
    const { v, port } = await victim();
    const s = await open(port);
    let answered = 0;
    s.on('data', (d: Buffer) => (answered += d.length));
    const storm = Buffer.concat(Array.from({ length: 100 }, (_, i) => Buffer.concat([enc.beginRequest(i + 1, Role.RESPONDER, Flags.KEEP_CONN), enc.abortRequest(i + 1)])));
    const sent = await flood(s, storm, 2000, 64 * MiB);
    const times = await timeNormal(5, 1000, () => normal(port));
    report('server, ABORT_REQUEST storm', v, times, `${(sent / MiB).toFixed(1)} MiB of BEGIN+ABORT pairs, ${(answered / MiB).toFixed(1)} MiB answered`);
    s.destroy();
    expect(answered).toBeGreaterThan(0);
    expect(v.peakRss()).toBeLessThan(rssBar(200)); // the peer reads its answers: no limit of ours is at work, only garbage
  });

  it('1,000 connections sending garbage: each closed with a protocol error, the others served', async () => {
    const { v, port } = await victim();
    const junk = await hold(port, 1000, Buffer.from('GET / HTTP/1.1\r\nHost: not-fastcgi\r\n\r\n'));
    const closed = await Promise.all(junk.map((s) => new Promise<boolean>((r) => (s.destroyed ? r(true) : s.once('close', () => r(true))))));
    expect(closed.every(Boolean)).toBe(true);
    report('server, 1,000 connections of garbage', v, await timeNormal(5, 1000, () => normal(port)));
    expect(v.output()).toContain('BAD_VERSION');
    expect(v.peakRss()).toBeLessThan(rssBar(200));
  });

  it('params bombs: 100 multiplexed requests, each with 1 MiB of params that never end', async () => {
    const { v, port } = await victim();
    const s = await open(port);
    s.on('error', () => {});
    const value = 'v'.repeat(64 * 1024 - 64);
    const pairs: Record<string, string> = {};
    for (let i = 0; i < 15; i++) pairs[`P${i}`] = value; // ~960 KiB: under maxParamsBytes
    // no empty PARAMS: the heads never end
    const heads = Buffer.concat(Array.from({ length: 100 }, (_, i) => Buffer.concat([enc.beginRequest(i + 1, Role.RESPONDER, Flags.KEEP_CONN), enc.pairs(i + 1, pairs).subarray(0, -8)])));
    const sent = await flood(s, heads, 3000, heads.length);
    const times = await timeNormal(5, 1000, () => normal(port));
    report('server, 100 x 1 MiB params that never end', v, times, `${(sent / MiB).toFixed(0)} MiB handed to the socket`);
    s.destroy();
    expect(v.output()).toContain('PARAMS_TOO_LARGE');
    expect(v.peakRss()).toBeLessThan(rssBar(150));
  });
});

function* decodeAll(bytes: Buffer): Generator<{ type: number; content: Buffer }> {
  for (let at = 0; at + 8 <= bytes.length; ) {
    const length = bytes.readUInt16BE(at + 4);
    const padding = bytes[at + 6]!;
    yield { type: bytes[at + 1]!, content: bytes.subarray(at + 8, at + 8 + length) };
    at += 8 + length + padding;
  }
}
