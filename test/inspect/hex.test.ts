// Hex input in each dump form, made by the real tools where they are installed (xxd, hexdump, tshark):
// plain and offset forms give one byte stream; tshark's follow output (the second node's lines
// indented) gives the two directions of a conversation.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { Encoder, RecordType, Role } from '../../src/codec/index.js';
import { inspect, parseHex, parseHexDump, type InspectReport } from '../../src/inspect/index.js';
import { concat, frames, LINK, pcap, segments } from './pcap-builder.js';

const e = new Encoder();
const t = new TextEncoder();
const dir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-hex-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// a body with 64 zero bytes: hexdump -C squeezes repeated lines into '*'
const body = concat([t.encode('Content-Type: application/octet-stream\r\n\r\n'), new Uint8Array(64), t.encode('end')]);
const toApp = concat([e.beginRequest(1, Role.RESPONDER, 1), e.pairs(1, { REQUEST_METHOD: 'GET', REQUEST_URI: '/hex?q=1' }), ...e.stream(RecordType.STDIN, 1, new Uint8Array(0), true)]);
const fromApp = concat([...e.stream(RecordType.STDOUT, 1, body, true), e.endRequest(1, 0)]);
const both = concat([toApp, fromApp]);

function tool(cmd: string, args: string[], input: Uint8Array): string {
  const file = join(dir, `in-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, input);
  return execFileSync(cmd, [...args, file], { encoding: 'latin1', stdio: ['ignore', 'pipe', 'ignore'] });
}

function expectExchange(r: InspectReport): void {
  expect(r.format).toBe('hex');
  expect(r.findings).toEqual([]);
  const x = r.conversations[0]!.exchanges[0]!;
  expect(x.params).toEqual([['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/hex?q=1']]);
  expect(x.response!.status).toBe(200);
  expect(x.response!.body.bytes).toBe(67);
  expect(Array.from(x.response!.body.preview)).toEqual([...new Uint8Array(64), ...t.encode('end')]);
}

describe('hex input', () => {
  const oneStream: [string, () => string][] = [
    ['xxd', () => tool('xxd', [], both)],
    ['xxd -p', () => tool('xxd', ['-p'], both)],
    ['xxd -g1 -c 24', () => tool('xxd', ['-g1', '-c', '24'], both)],
    ['hexdump -C (with * for repeated lines)', () => tool('hexdump', ['-C'], both)],
    ['spaced bytes', () => Array.from(both, (b) => b.toString(16).padStart(2, '0')).join(' ')],
    ['0x.. list', () => Array.from(both, (b) => `0x${b.toString(16).padStart(2, '0')}`).join(', ')],
    ['\\x.. escapes', () => Array.from(both, (b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')],
  ];
  for (const [name, make] of oneStream) {
    it(`${name}: one byte stream, both directions back to back`, () => {
      const text = make();
      expect(Array.from(parseHex(text))).toEqual(Array.from(both));
      expectExchange(inspect(text));
      expectExchange(inspect(t.encode(text))); // as bytes: told apart from raw FastCGI by its first bytes
    });
  }

  it('hexdump -C squeezes the zeros (the form this test is about)', () => {
    expect(tool('hexdump', ['-C'], both)).toMatch(/^\*$/m);
  });

  it("tshark's follow,tcp,hex and follow,tcp,raw: two directions, the second node's lines indented", () => {
    const spec = { sends: [[0, toApp], [1, fromApp]] as [0 | 1, Uint8Array][], mss: 40 };
    const file = pcap(LINK.ETHERNET, frames(spec, segments(spec), LINK.ETHERNET));
    for (const mode of ['hex', 'raw']) {
      const text = tool('tshark', ['-q', '-z', `follow,tcp,${mode},0`, '-r'], file);
      expect(text).toContain(`Follow: tcp,${mode}`);
      const dump = parseHexDump(text);
      expect(dump.twoSided).toBe(true);
      expect(Array.from(concat(dump.chunks.filter((c) => c.side === 0).map((c) => c.bytes)))).toEqual(Array.from(toApp));
      expect(Array.from(concat(dump.chunks.filter((c) => c.side === 1).map((c) => c.bytes)))).toEqual(Array.from(fromApp));
      const r = inspect(text);
      expectExchange(r);
      expect(r.conversations[0]!.bytesToApp).toBe(toApp.length);
      expect(r.conversations[0]!.bytesFromApp).toBe(fromApp.length);
    }
  });

  it("Wireshark's hex dump form (offset, three blanks, bytes, text column), the second node indented", () => {
    // the layout of Wireshark's "Copy as Hex Dump" and its Follow Stream hex view
    const dump = (bytes: Uint8Array, indent: string) => {
      const lines: string[] = [];
      for (let o = 0; o < bytes.length; o += 16) {
        const row = bytes.subarray(o, o + 16);
        const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(47);
        const ascii = Array.from(row, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
        lines.push(`${indent}${o.toString(16).padStart(4, '0')}   ${hex}   ${ascii}`);
      }
      return lines.join('\n');
    };
    expectExchange(inspect(dump(both, '')));
    const r = inspect(`${dump(toApp, '')}\n${dump(fromApp, '    ')}\n`);
    expectExchange(r);
    expect(r.conversations[0]!.bytesFromApp).toBe(fromApp.length);
  });

  it('text that is not hex: a BAD_INPUT finding naming the line', () => {
    const r = inspect('0101000100080000\nhello world\n');
    expect(r.findings).toMatchObject([{ code: 'BAD_INPUT', severity: 'error', message: expect.stringContaining('line 2') }]);
    expect(inspect('010').findings[0]!.message).toContain('odd number');
  });
});

describe('empty input', () => {
  it('no conversation, no finding', () => {
    for (const input of ['', '\n\n', new Uint8Array(0)]) expect(inspect(input)).toMatchObject({ conversations: [], findings: [], stats: { requests: 0, records: 0 } });
  });
});
