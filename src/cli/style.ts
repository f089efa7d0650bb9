// Colour for the fcgi command's human output: only when the stream is a terminal and NO_COLOR is unset
// (https://no-color.org), so piped output and logs stay plain text.

import type { WriteStream } from 'node:tty';

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
}

const plain = (s: string): string => s;
const sgr = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

export function styleFor(stream: NodeJS.WriteStream | WriteStream): Style {
  const on = stream.isTTY === true && !process.env.NO_COLOR;
  if (!on) return { bold: plain, dim: plain, red: plain, green: plain, yellow: plain };
  return { bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39) };
}
