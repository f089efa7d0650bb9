// Text for the page: hex dumps, readable previews, sizes, times, shell words.

import { Role } from '../../src/codec/index.js';

const hex2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Bytes as space-separated hex pairs, 16 a line when `wrap`. */
export function hexString(bytes: Uint8Array, wrap = false): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) out += wrap && i % 16 === 0 ? '\n' : ' ';
    out += hex2[bytes[i]!];
  }
  return out;
}

/** A classic hex dump: offset, 16 bytes in hex, the printable ones as text. */
export function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = hexString(row).padEnd(47, ' ');
    const text = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${at.toString(16).padStart(8, '0')}  ${hex}  |${text}|`);
  }
  return lines.join('\n');
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
/** Bytes as text (UTF-8, invalid sequences replaced), control characters other than tab and newline as dots. */
export function textPreview(bytes: Uint8Array): string {
  // eslint-disable-next-line no-control-regex
  return utf8.decode(bytes).replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '.');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A duration in milliseconds (capture times are ms since the epoch), in the unit that reads best. */
export function formatDuration(ms: number): string {
  if (ms < 1) return `${(ms * 1e3).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function roleName(role: number): string {
  for (const [name, value] of Object.entries(Role)) if (value === role) return name[0] + name.slice(1).toLowerCase();
  return `role ${role}`;
}

/** A word for a POSIX shell: left bare when it is plainly safe, else single-quoted. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
