// `fcgi decode` as a user runs it: the built command, its output and its exit status.

import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const run = (args: string[], input?: Uint8Array) => spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8' });

describe('fcgi decode', () => {
  it('decodes the spec example exchange when given no input', () => {
    const out = execFileSync(process.execPath, [cli, 'decode'], { encoding: 'utf8' });
    expect(out).toContain('PARAMS            id 1        42+6   SERVER_PORT=80 SERVER_ADDR=199.170.183.42');
    expect(out).toContain('END_REQUEST       id 1         8+0   appStatus 0 protocolStatus 0');
  });

  it('reads standard input and prints JSON', () => {
    const bytes = Uint8Array.from(Buffer.from('0101000100080000000201000000000001030001000800000000000003000000', 'hex'));
    const r = run(['decode', '-', '--json'], bytes);
    expect(r.status).toBe(0);
    const [report] = JSON.parse(r.stdout);
    expect(report.rows.map((x: { type: string; detail: string }) => `${x.type} ${x.detail}`)).toEqual([
      'BEGIN_REQUEST role AUTHORIZER KEEP_CONN',
      'END_REQUEST appStatus 0 protocolStatus 3',
    ]);
  });

  it('names the broken rule and its offset, and exits 1', () => {
    const r = run(['decode', '--hex', '01060001000500000102030405 0201']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/STDOUT\s+id 1\s+5\+0/);
    expect(r.stdout).toContain('error: TRUNCATED_HEADER');
    expect(r.stdout).toContain('at stream offset 15');
  });

  it('says how to use it', () => {
    expect(run(['--help']).stdout).toContain('usage: fcgi <command>');
    expect(run(['decode', '--help']).stdout).toContain('usage: fcgi decode');
    const bad = run(['frobnicate']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown command 'frobnicate'");
  });
});
