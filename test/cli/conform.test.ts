// `fcgi conform` against our own server (every probe passes) and against apps that misbehave on
// purpose: one that never answers (every probe a bounded failure, the run bounded), one that dies on
// an unknown record type (crashed, the rest not run), and none at all (cannot connect). The catalogue
// cites vectors that exist and spec sections of FastCGI 1.0.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as netServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type FcgiServer } from '../../src/server/index.js';
import { CATALOGUE } from '../../src/cli/conform/catalogue.js';
import { vectors } from '../fixtures/vectors.js';
import { freePort } from '../peers/ports.js';
import { conformJson, expectTable, result } from './conform-helpers.js';
import { fcgi } from './run-cli.js';

let ours: FcgiServer;
let oursAddr: string;

/** A TCP server on a free port with `onConnection`; closed by the test. */
async function rawServer(onConnection: (socket: Socket, server: Server) => void): Promise<{ address: string; server: Server }> {
  const port = await freePort();
  const server = netServer((socket) => onConnection(socket, server));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { address: `127.0.0.1:${port}`, server };
}

beforeAll(async () => {
  const port = await freePort();
  // answers once the body, if any, is read to its end; an aborted request ends without an answer
  ours = createServer({ handleSignals: false, log: () => {} }, (req, res) => {
    req.on('error', () => {});
    req.resume().once('end', () => {
      res.setHeader('Content-Type', 'text/plain');
      res.end('hello\n');
    });
  });
  await new Promise((r) => ours.listen(port, () => r(null)));
  oursAddr = `127.0.0.1:${port}`;
});

afterAll(async () => {
  await new Promise((r) => ours?.close(r));
});

describe('fcgi conform', () => {
  it('our server passes every probe of the catalogue', async () => {
    const { report, code } = await conformJson(oursAddr, [], 'ours');
    expect(report.results.map((r) => r.id)).toEqual(CATALOGUE.map((p) => p.id));
    expectTable(report, {});
    expect(code).toBe(0);
    expect(result(report, 'multiplex').detail).toMatch(/multiplexes/);
    expect(result(report, 'get-values').detail).toMatch(/FCGI_MAX_CONNS=\d+ FCGI_MAX_REQS=\d+ FCGI_MPXS_CONNS=1/);
  });

  it('probes an app on a Unix socket', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'fcgi-wasm-conform-')), 'app.sock');
    const onSocket = createServer({ handleSignals: false, log: () => {} }, (_req, res) => res.end('hello\n'));
    await new Promise((r) => onSocket.listen(path, () => r(null)));
    try {
      const { report, code } = await conformJson(path, ['--only', 'responder,split-pair,multiplex,keep-conn']);
      expectTable(report, {});
      expect(code).toBe(0);
    } finally {
      await new Promise((r) => onSocket.close(r));
      rmSync(dirname(path), { recursive: true, force: true });
    }
  });

  it('an app that reads and never answers: every probe fails within its timeout, and the run is bounded', async () => {
    const { address, server } = await rawServer((socket) => socket.on('data', () => {}));
    try {
      const timeout = 200;
      const { report, code, ms } = await conformJson(address, ['--timeout', String(timeout)]);
      expect(report.results.length).toBe(CATALOGUE.length);
      for (const r of report.results) {
        expect(r.did, r.id).toBe('hung');
        expect(['divergence', 'violation'], r.id).toContain(r.verdict);
      }
      expect(code).toBe(3);
      // each probe within its timeout (plus byte-split's own sending time), the liveness checks fast
      expect(ms).toBeLessThan(CATALOGUE.length * timeout + 5000);
    } finally {
      server.close();
    }
  });

  it('an app that dies on an unknown record type: crashed there, the probes after it not run', async () => {
    const { address, server } = await rawServer((socket, srv) => {
      socket.on('data', (chunk: Buffer) => {
        if (chunk[0] === 1 && chunk[1] === 12) {
          srv.close(); // the listening socket goes with the process
          socket.destroy();
        }
      });
    });
    const { report, code } = await conformJson(address, ['--only', 'unknown-type,byte-split,multiplex', '--timeout', '300']);
    server.close();
    expect(report.results.map((r) => [r.id, r.did, r.verdict])).toEqual([
      ['unknown-type', 'crashed', 'violation'],
      ['byte-split', 'not run', 'information'],
      ['multiplex', 'not run', 'information'],
    ]);
    expect(code).toBe(3);
  });

  it('says it cannot connect (exit 69), and refuses unknown probes and options', async () => {
    const port = await freePort();
    const down = await fcgi(['conform', `127.0.0.1:${port}`]);
    expect(down.code).toBe(69);
    expect(down.err).toMatch(/cannot connect/);
    const bad = await fcgi(['conform', oursAddr, '--only', 'no-such-probe']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/no probe named no-such-probe/);
  });

  it('shows the bytes the app sent back with --verbose, and lists the catalogue with --list', async () => {
    const verbose = await fcgi(['conform', oursAddr, '--only', 'unknown-type', '--verbose']);
    expect(verbose.out).toMatch(/connection 1: the app sent 16 bytes\n\s+01 0b 00 00 00 08 00 00 0c 00 00 00 00 00 00 00/);
    const list = await fcgi(['conform', '--list', '--json']);
    expect((JSON.parse(list.out) as { id: string }[]).map((p) => p.id)).toEqual(CATALOGUE.map((p) => p.id));
  });

  it('every probe cites FastCGI 1.0 sections and only vectors that exist', () => {
    const ids = new Set(vectors.map((v) => v.id));
    for (const p of CATALOGUE) {
      expect(p.spec, p.id).toMatch(/^(\d(\.\d)?|Appendix [AB])/);
      for (const v of p.vectors) expect(ids.has(v), `${p.id} cites ${v}`).toBe(true);
    }
    expect(new Set(CATALOGUE.map((p) => p.id)).size).toBe(CATALOGUE.length);
  });
});
