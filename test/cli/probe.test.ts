// `fcgi probe`: FCGI_GET_VALUES with a timeout. php-fpm answers (its pool size, no multiplexing), our
// server answers (multiplexes), fcgi2's C app stays silent (it acts on a record only once bytes after it
// arrive, and a lone GET_VALUES has none): said clearly, within the timeout, with its own exit status.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type FcgiServer } from '../../src/server/index.js';
import { startFcgi2App, type Fcgi2App } from '../peers/fcgi2-app.js';
import { startPhpFpm, type PhpFpm } from '../peers/php-fpm.js';
import { freePort } from '../peers/ports.js';
import { fcgi } from './run-cli.js';

let c: Fcgi2App;
let php: PhpFpm;
let ours: FcgiServer;
let oursAddr: string;

beforeAll(async () => {
  [c, php] = await Promise.all([startFcgi2App(), startPhpFpm({ children: 3 })]);
  const port = await freePort();
  ours = createServer({ handleSignals: false, maxConnections: 50, log: () => {} }, (_req, res) => res.end('hi'));
  await new Promise((r) => ours.listen(port, () => r(null)));
  oursAddr = `127.0.0.1:${port}`;
}, 30_000);

afterAll(async () => {
  await Promise.all([c?.stop(), php?.stop(), new Promise((r) => ours?.close(r))]);
});

describe('fcgi probe', () => {
  it('php-fpm answers: no multiplexing (php-fpm 8.2 gives FCGI_MPXS_CONNS alone)', async () => {
    const r = await fcgi(['probe', php.address, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ answered: true, values: { FCGI_MPXS_CONNS: '0' } });
    const text = await fcgi(['probe', php.address]);
    expect(text.out).toContain('answered FCGI_GET_VALUES');
    expect(text.out).toMatch(/FCGI_MPXS_CONNS\s+0\s+one request per connection/);
    expect(text.out).toMatch(/FCGI_MAX_CONNS\s+\(not given\)/);
  });

  it('our server answers: it multiplexes, and its connection limit', async () => {
    const r = await fcgi(['probe', oursAddr, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ answered: true, values: { FCGI_MAX_CONNS: '50', FCGI_MPXS_CONNS: '1' } });
    const text = await fcgi(['probe', oursAddr]);
    expect(text.out).toMatch(/FCGI_MPXS_CONNS\s+1\s+multiplexes/);
  });

  it('fcgi2 does not answer: it says so, after the timeout and not much later, exit 1', async () => {
    const r = await fcgi(['probe', c.address, '--timeout', '400', '--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ answered: false, silence: 'timeout', values: {}, timeout: 400 });
    expect(j.ms).toBeGreaterThanOrEqual(390);
    expect(j.ms).toBeLessThan(2000);
    const text = await fcgi(['probe', c.address, '--timeout', '300']);
    expect(text.code).toBe(1);
    expect(text.out).toContain('no answer to FCGI_GET_VALUES within 300 ms');
    // and the app is still fine for requests afterwards
    const after = await fcgi(['request', '--connect', c.address, '--body-only', '/']);
    expect(after.out).toBe('hello\n');
  });

  it('cannot connect: exit 69 with the reason; bad usage: exit 2', async () => {
    const r = await fcgi(['probe', `127.0.0.1:${await freePort()}`]);
    expect(r.code).toBe(69);
    expect(r.err).toContain('CONNECT_FAILED');
    expect((await fcgi(['probe'])).code).toBe(2);
    expect((await fcgi(['probe', 'not an address'])).code).toBe(2);
    expect((await fcgi(['probe', '--help'])).out).toContain('usage: fcgi probe ADDR');
  });
});
