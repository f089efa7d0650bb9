// `fcgi inspect` as a user runs it: the built command on a capture file, standard input and hex; its
// table, details, JSON and record list; its exit status.

import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Encoder, RecordType, Role } from '../../src/codec/index.js';
import { concat, frames, LINK, pcap, segments } from '../inspect/pcap-builder.js';
import { scriptArgv } from '../runtimes/runtime.js';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const run = (args: string[], input?: Uint8Array | string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8', env: { ...process.env, ...env } });
const dir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-cli-inspect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const e = new Encoder();
const t = new TextEncoder();
function exchange(id: number, uri: string, reply: string, status = ''): [Uint8Array, Uint8Array] {
  return [
    concat([e.beginRequest(id, Role.RESPONDER, 1), e.pairs(id, { REQUEST_METHOD: 'POST', REQUEST_URI: uri, SCRIPT_NAME: '/app.php' }), ...e.stream(RecordType.STDIN, id, t.encode('name=value'), true)]),
    concat([...e.stream(RecordType.STDOUT, id, t.encode(`${status}Content-Type: text/plain\r\n\r\n${reply}`), true), ...e.stream(RecordType.STDERR, id, t.encode('a log line'), true), e.endRequest(id, 9)]),
  ];
}
const [a1, b1] = exchange(1, '/first?x=1', 'one');
const [a2, b2] = exchange(1, '/second', 'two', 'Status: 404 Not Found\r\n');
const spec = { sends: [[0, a1], [1, b1], [0, a2], [1, b2]] as [0 | 1, Uint8Array][], client: ['127.0.0.1', 51000] as [string, number], server: ['127.0.0.1', 9123] as [string, number] };
const capture = join(dir, 'two.pcap');
writeFileSync(capture, pcap(LINK.ETHERNET, frames(spec, segments(spec), LINK.ETHERNET)));

describe('fcgi inspect', () => {
  it('prints a table of requests, then each request in detail; exit 0 when nothing is wrong', () => {
    const r = run(['inspect', capture]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('pcap, 9 packets');
    expect(r.stdout).toContain('1 conversation, 2 requests, 20 records; 0 errors, 0 warnings');
    expect(r.stdout).toMatch(/conv\s+id\s+request\s+status\s+bytes\s+app\s+time/);
    expect(r.stdout).toMatch(/1\s+1\s+POST \/first\?x=1\s+200\s+3 B\s+9\s+\d+\.\d+ms/);
    expect(r.stdout).toMatch(/1\s+1\s+POST \/second\s+404\s+3 B\s+9/);
    expect(r.stdout).toContain('conversation 1: 127.0.0.1:51000 -> 127.0.0.1:9123, 2 requests');
    expect(r.stdout).toContain('      REQUEST_URI = /second');
    expect(r.stdout).toContain('    stdin: 10 bytes "name=value"');
    expect(r.stdout).toContain('    response: 404 Not Found, body 3 bytes "two"');
    expect(r.stdout).toContain('    stderr: 10 bytes "a log line"');
    expect(r.stdout).toContain('    end: appStatus 9, REQUEST_COMPLETE');
    expect(r.stdout).not.toContain('\x1b['); // not a terminal: no colours
  });

  it('--json: the whole report for scripts', () => {
    const r = run(['inspect', capture, '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.stats).toMatchObject({ packets: 9, requests: 2, conversations: 1, records: 20 });
    const [one, two] = report.conversations[0].exchanges;
    expect(one.stdin).toMatchObject({ bytes: 10, text: 'name=value', complete: true });
    expect(two.response).toMatchObject({ status: 404, appStatus: 9, body: { bytes: 3, text: 'two' }, headers: [['Content-Type', 'text/plain']] });
    expect(report.conversations[0].records[0]).toMatchObject({ offset: 0, direction: 'to-app', typeName: 'BEGIN_REQUEST', frame: 4 });
  });

  it('--records: the raw record list', () => {
    const r = run(['inspect', capture, '--records']);
    expect(r.stdout).toMatch(/@\s+0\s+to-app\s+BEGIN_REQUEST\s+id 1\s+8\+0\s+\+0\.000ms\s+frame 4/);
    expect(r.stdout).toMatch(/@\s+200\s+from-app\s+END_REQUEST\s+id 1\s+8\+0\s+\+3\.000ms\s+frame 7/);
    expect(r.stdout).not.toContain('REQUEST_URI = ');
  });

  it('reads hex from standard input (--hex), and raw bytes from a file', () => {
    const raw = concat([a1, b1]);
    const hex = Buffer.from(raw).toString('hex').replace(/(.{32})/g, '$1\n');
    const r = run(['inspect', '-', '--hex', '--summary'], hex);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('standard input: hex');
    expect(r.stdout).toMatch(/POST \/first\?x=1\s+200/);
    const file = join(dir, 'raw.bin');
    writeFileSync(file, raw);
    expect(run(['inspect', file]).stdout).toContain(`${file}: raw, ${raw.length} B; 1 conversation, 1 request`);
  });

  it('exits 1 when a finding of severity error exists, and lists it with its offset', () => {
    const file = join(dir, 'bad.bin');
    writeFileSync(file, concat([a1, e.record(RecordType.STDOUT, 5, t.encode('stray')), b1]));
    const r = run(['inspect', file]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('1 error, 0 warnings');
    expect(r.stdout).toContain(`error   INACTIVE_REQUEST_ID  conv 1 id 5 from-app @${a1.length}: STDOUT for request 5, which has no active request`);
  });

  it('colours only on a terminal, and never with NO_COLOR', () => {
    // `script` gives the command a terminal
    // the command line of the runtime running this suite: through a shell, Deno is not told to run the
    // script with permissions (it would wait at a permission prompt on the terminal)
    const cmd = [...scriptArgv(cli), 'inspect', capture, '--summary'].join(' ');
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '' } });
    expect(tty.stdout).toContain('\x1b[32m'); // the 200 in green
    const plain = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(plain.stdout).toContain('POST /first');
    expect(plain.stdout).not.toContain('\x1b[');
  });

  it('says how to use it', () => {
    expect(run(['inspect', '--help']).stdout).toContain('usage: fcgi inspect FILE|-');
    expect(run(['--help']).stdout).toMatch(/inspect\s+requests, responses and protocol findings/);
    const bad = run(['inspect']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('fcgi inspect: give one FILE');
    expect(run(['inspect', capture, '--format', 'gif']).status).toBe(2);
  });
});
