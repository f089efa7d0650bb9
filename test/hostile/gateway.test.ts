// Attacks on the gateway (`fcgi proxy` from dist/, in a child process, in front of a php-fpm started by
// the test or a hostile backend): slow uploads, idle HTTP connections, a backend that stalls, and the
// request tricks it already refuses. Each is bounded in bytes and time.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Encoder, RecordType } from '../../src/codec/index.js';
import { startPhpFpm, type PhpFpm } from '../peers/php-fpm.js';
import { freePort } from '../peers/ports.js';
import { MiB, report, rssBar, sleep, startVictim, timeNormal, type Victim } from './victim.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const DOCROOT = fileURLToPath(new URL('../fixtures/php', import.meta.url));
let php: PhpFpm;
beforeAll(async () => {
  php = await startPhpFpm({ children: 4 });
});
afterAll(async () => {
  await php?.stop();
});

async function gateway(args: string[]): Promise<{ v: Victim; port: number; base: string }> {
  const port = await freePort();
  const v = await startVictim(CLI, ['proxy', '--listen', `127.0.0.1:${port}`, ...args], `http://127.0.0.1:${port}/`);
  return { v, port, base: `http://127.0.0.1:${port}` };
}

/** A normal request: a PHP page through the gateway, answered 200. */
async function normal(base: string): Promise<void> {
  const r = await fetch(`${base}/index.php?normal=1`);
  if (r.status !== 200) throw new Error(`a normal request got ${r.status}`);
  await r.arrayBuffer();
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** What node:http answers to raw request bytes: the status line, or '' when the connection closes unanswered. */
async function rawStatus(port: number, bytes: string): Promise<string> {
  const s = await open(port);
  s.on('error', () => {});
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString('latin1')));
  s.write(bytes);
  await new Promise((r) => setTimeout(r, 300));
  s.destroy();
  return got.split('\r\n')[0] ?? '';
}

describe('hostile HTTP clients and backends against the gateway', () => {
  it('500 slow uploads hold no php-fpm worker: normal requests are answered during the attack', async () => {
    const { v, port, base } = await gateway(['--backend', php.address, '--root', DOCROOT]);
    const uploads: Socket[] = [];
    for (let i = 0; i < 500; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => open(port)));
      for (const s of batch) {
        s.on('error', () => {});
        s.write(`POST /post.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${1 << 20}\r\n\r\n`);
      }
      uploads.push(...batch);
    }
    const piece = Buffer.alloc(1024, 'u');
    const trickle = setInterval(() => uploads.forEach((s) => s.writable && s.write(piece)), 250);
    try {
      await sleep(500); // every upload has begun, and each holds a part of its body
      const times = await timeNormal(100, 1000, () => normal(base));
      report('gateway, 500 slow uploads (Content-Length bodies trickling)', v, times);
    } finally {
      clearInterval(trickle);
      uploads.forEach((s) => s.destroy());
    }
    expect(v.peakRss()).toBeLessThan(rssBar(150));
  });

  it('2,000 idle HTTP connections: normal requests are answered during the attack', async () => {
    const { v, port, base } = await gateway(['--backend', php.address, '--root', DOCROOT]);
    const idle: Socket[] = [];
    for (let i = 0; i < 2000; i += 100) idle.push(...(await Promise.all(Array.from({ length: 100 }, () => open(port)))));
    idle.forEach((s) => s.on('error', () => {}));
    const times = await timeNormal(50, 1000, () => normal(base));
    report('gateway, 2,000 idle HTTP connections', v, times);
    idle.forEach((s) => s.destroy());
    expect(v.peakRss()).toBeLessThan(rssBar(200));
  });

  it('a backend that sends its head and 8 bytes, then stalls: the reply is cut after --timeout', async () => {
    const enc = new Encoder();
    const stalling = createNetServer((s) => s.once('data', () => s.write(Buffer.concat(enc.stream(RecordType.STDOUT, 1, Buffer.from('Status: 200\r\nContent-Type: text/plain\r\n\r\n12345678'))))));
    await new Promise<void>((r) => stalling.listen(0, '127.0.0.1', () => r()));
    try {
      const { v, base } = await gateway(['--backend', `127.0.0.1:${(stalling.address() as { port: number }).port}`, '--pass-all', '--timeout', '400ms']);
      const t0 = performance.now();
      const outcome = await new Promise<string>((resolve) => {
        httpRequest(`${base}/stalls`, (res) => {
          let body = '';
          res.setEncoding('latin1').on('data', (d: string) => (body += d));
          res.on('error', () => resolve(`cut after ${JSON.stringify(body)}`)).on('end', () => resolve(`ended with ${JSON.stringify(body)}`));
        })
          .on('error', (e) => resolve(`error ${e.message}`))
          .end();
      });
      const took = performance.now() - t0;
      report('gateway, a backend that stalls after its head and 8 bytes', v, [], `${outcome} in ${took.toFixed(0)} ms (--timeout 400ms)`);
      expect(outcome).toBe('cut after "12345678"');
      expect(took).toBeLessThan(5000);
      expect(v.output()).toContain('TIMEOUT_IDLE');
    } finally {
      stalling.close();
    }
  });

  it('refuses the request tricks: smuggling, traversal, dot files, oversized bodies', async () => {
    const { v, port, base } = await gateway(['--backend', php.address, '--root', DOCROOT]);
    // both framings at once (request smuggling): node:http refuses it
    expect(await rawStatus(port, 'POST /post.php HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /index.php HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect(await rawStatus(port, 'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 (400|404)/);
    // encoded dot segments, which fetch() would normalise away first: clamped at the root, never outside it
    expect(await rawStatus(port, 'GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 (400|404)/);
    expect((await fetch(`${base}/.git/config`)).status).toBe(403);
    expect((await fetch(`${base}/post.php`, { method: 'POST', body: Buffer.alloc(9 << 20) })).status).toBe(413);
    report('gateway, smuggling, traversal, dot files, a 9 MiB body', v, await timeNormal(5, 1000, () => normal(base)));
    expect(v.peakRss()).toBeLessThan(rssBar(150));
  });
});
