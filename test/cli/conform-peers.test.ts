// `fcgi conform` against the real peers, with the facts the conformance vectors record (and the ones
// these probes found): php-fpm rejects a pair split across PARAMS records (N12, php-src #16042), sends
// no stream terminators and leaves old bytes in END_REQUEST's reserved field (X14, R08), closes on an
// unknown role (X10); fcgi2's C library (and Perl's FCGI, built on it) loses a pipelined request (X15),
// refuses multiplexing with CANT_MPX_CONN (X11) and leaves an unpadded GET_VALUES unanswered; Go
// multiplexes, refuses the Authorizer and Filter roles and ignores unknown management records. Each
// run ends within 60 s whatever the app does.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { startFcgi2App, type Fcgi2App } from '../peers/fcgi2-app.js';
import { startPhpFpm, type PhpFpm } from '../peers/php-fpm.js';
import { startGoApp, startPerlApp, type AppProcess } from '../peers/apps.js';
import { conformJson, expectTable, result, type Departures } from './conform-helpers.js';

const PHP_ROOT = fileURLToPath(new URL('../fixtures/php', import.meta.url));

/** The libfcgi family: fcgi2's C library, and Perl's FCGI module, which embeds it. */
const LIBFCGI: Departures = {
  'unknown-role': ['closed', 'divergence'],
  'get-values': ['hung', 'divergence'],
  multiplex: ['refused', 'information'],
  pipelined: ['hung', 'divergence'],
};

let php: PhpFpm;
let c: Fcgi2App;
let perl: AppProcess;
let go: AppProcess;

beforeAll(async () => {
  [php, c, perl, go] = await Promise.all([startPhpFpm(), startFcgi2App(), startPerlApp(), startGoApp()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([php?.stop(), c?.stop(), perl?.stop(), go?.stop()]);
});

describe('fcgi conform against the peers', () => {
  it('php-fpm: the split pair reset, no terminators, old bytes in END_REQUEST, FCGI_MPXS_CONNS=0 alone', async () => {
    const { report, code, ms } = await conformJson(php.address, ['--root', PHP_ROOT], 'php-fpm');
    expectTable(report, {
      terminators: ['answered differently', 'divergence'],
      'end-reserved': ['answered differently', 'divergence'],
      'unknown-role': ['closed', 'divergence'],
      'get-values': ['answered differently', 'information'],
      'unknown-type': ['closed', 'divergence'],
      'split-pair': ['closed', 'divergence'],
      multiplex: ['closed', 'divergence'],
    });
    expect(result(report, 'split-pair').detail).toMatch(/^reset the connection without END_REQUEST/);
    expect(result(report, 'get-values').detail).toBe('FCGI_MPXS_CONNS=0; not given: FCGI_MAX_CONNS, FCGI_MAX_REQS');
    expect(code).toBe(1);
    expect(ms).toBeLessThan(60_000);
  });

  it("fcgi2's C app: the pipelined request lost, multiplexing refused, GET_VALUES answered only when padded", async () => {
    const { report, code, ms } = await conformJson(c.address, [], 'fcgi2');
    expectTable(report, LIBFCGI);
    expect(result(report, 'pipelined').detail).toMatch(/no second END_REQUEST/);
    expect(result(report, 'multiplex').detail).toMatch(/CANT_MPX_CONN/);
    expect(result(report, 'get-values-padded').detail).toBe('FCGI_MAX_CONNS=1 FCGI_MAX_REQS=1 FCGI_MPXS_CONNS=0');
    expect(code).toBe(1);
    expect(ms).toBeLessThan(60_000);
  });

  it("Perl's FCGI module does what fcgi2 does (it embeds fcgi2's library)", async () => {
    const { report, ms } = await conformJson(perl.address, [], 'perl');
    expectTable(report, LIBFCGI);
    expect(ms).toBeLessThan(60_000);
  });

  it("Go's net/http/fcgi: multiplexes, answers UNKNOWN_ROLE, refuses Authorizer and Filter, ignores an unknown management type", async () => {
    const { report, code, ms } = await conformJson(go.address, [], 'go');
    expectTable(report, {
      authorizer: ['refused', 'information'],
      filter: ['refused', 'information'],
      'get-values': ['answered differently', 'information'],
      'unknown-type': ['hung', 'divergence'],
    });
    expect(result(report, 'multiplex').detail).toMatch(/multiplexes/);
    expect(result(report, 'get-values').detail).toBe('FCGI_MPXS_CONNS=1; not given: FCGI_MAX_CONNS, FCGI_MAX_REQS');
    expect(code).toBe(1);
    expect(ms).toBeLessThan(60_000);
  });
});
