// Hex text -> bytes, for the dump forms people paste: plain hex (`xxd -p`, spaced bytes, 0x.. lists,
// \x.. escapes), `xxd`, `hexdump -C` (with its `*` for repeated lines), Wireshark's hex dumps and
// tshark's `-z follow,tcp,hex` / `follow,tcp,raw` output, where the second node's lines are indented
// (a tab in tshark, spaces in Wireshark's window): those give two directions.

import { InspectInputError } from './findings.js';
import { concatBytes } from '../codec/bytes.js';

export type HexForm = 'plain' | 'xxd' | 'hexdump' | 'offsets';

export interface HexChunk {
  /** 0: lines not indented, 1: indented lines (the second node of a two-sided dump). */
  side: 0 | 1;
  bytes: Uint8Array;
}

export interface HexDump {
  form: HexForm;
  /** True when the dump marks two directions by indentation. */
  twoSided: boolean;
  /** The bytes in order, one chunk per run of lines of one side. */
  chunks: HexChunk[];
}

// an offset column: 4 to 16 hex digits, then ':' (xxd) or two or more blanks (hexdump -C, Wireshark)
const OFFSET_LINE = /^([0-9a-fA-F]{4,16})(?::[ \t]?|[ \t]{2,})(?=[0-9a-fA-F])/;
const OFFSET_ONLY = /^[0-9a-fA-F]{4,16}$/;
const HEADER_LINE = /^(=+|Follow:|Filter:|Node [01]:)/;

/** Every byte of a hex text, both directions back to back (see parseHexDump for the directions). */
export function parseHex(text: string): Uint8Array {
  const { chunks } = parseHexDump(text);
  return chunks.length === 1 ? chunks[0]!.bytes : concatBytes(chunks.map((c) => c.bytes));
}

/** Parses a hex text; throws InspectInputError (BAD_HEX) naming the line that is not hex. */
export function parseHexDump(text: string): HexDump {
  const lines = text.split(/\r?\n|\r/);
  const data: { line: number; side: 0 | 1; text: string }[] = [];
  let withOffset = 0;
  let indented = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const body = raw.trim();
    if (body === '' || HEADER_LINE.test(body)) continue;
    const side: 0 | 1 = /^[ \t]/.test(raw) ? 1 : 0;
    if (side) indented++;
    if (OFFSET_LINE.test(body)) withOffset++;
    data.push({ line: i + 1, side, text: body });
  }
  // indentation marks directions only when both kinds of line are there
  const twoSided = indented > 0 && indented < data.length;
  if (!twoSided) for (const d of data) d.side = 0;
  const offsets = data.length > 0 && withOffset >= Math.ceil(data.filter((d) => d.text !== '*' && !OFFSET_ONLY.test(d.text)).length * 0.8) && withOffset > 0;
  const form: HexForm = !offsets ? 'plain' : data.some((d) => /^[0-9a-fA-F]+:/.test(d.text)) ? 'xxd' : data.some((d) => d.text.includes('|')) ? 'hexdump' : 'offsets';
  const out: HexChunk[] = [];
  let parts: Uint8Array[] = [];
  let partsSide: 0 | 1 = 0;
  const flush = (): void => {
    if (parts.length > 0) out.push({ side: partsSide, bytes: parts.length === 1 ? parts[0]! : concatBytes(parts) });
    parts = [];
  };
  const put = (side: 0 | 1, bytes: Uint8Array): void => {
    if (bytes.length === 0) return;
    if (side !== partsSide) flush();
    partsSide = side;
    parts.push(bytes);
  };
  if (!offsets) {
    let carry = ''; // an odd digit left at a line end (xxd -p never does that, but pasted text may)
    for (const d of data) {
      const digits = d.text.replace(/0x|\\x|[\s,;:]/gi, '');
      if (!/^[0-9a-fA-F]*$/.test(digits)) throw new InspectInputError('BAD_HEX', `line ${d.line} is not hex: ${JSON.stringify(d.text.slice(0, 40))}`, d.line);
      const all = carry + digits;
      const even = all.length & ~1;
      carry = all.slice(even);
      put(d.side, hexBytes(all.slice(0, even)));
    }
    if (carry) throw new InspectInputError('BAD_HEX', 'the hex text has an odd number of digits', data.at(-1)?.line ?? 0);
    flush();
    return { form, twoSided, chunks: out };
  }
  // offset forms: the offsets are per side (tshark counts each direction from 0)
  const end: [number, number] = [-1, -1];
  const last: [Uint8Array | null, Uint8Array | null] = [null, null];
  const squeezed: [boolean, boolean] = [false, false];
  for (const d of data) {
    const s = d.side;
    if (d.text === '*') {
      squeezed[s] = true;
      continue;
    }
    const only = OFFSET_ONLY.test(d.text);
    const m = only ? null : OFFSET_LINE.exec(d.text);
    if (!only && !m) throw new InspectInputError('BAD_HEX', `line ${d.line} has no offset column like the others: ${JSON.stringify(d.text.slice(0, 40))}`, d.line);
    const offset = parseInt(only ? d.text : m![1]!, 16);
    if (end[s] < 0) end[s] = offset;
    // hexdump -C's '*': the previous line repeats up to this offset
    if (squeezed[s] && last[s] && offset > end[s]) {
      const line = last[s]!;
      while (end[s] < offset) {
        const n = Math.min(line.length, offset - end[s]);
        put(s, line.subarray(0, n));
        end[s] += n;
      }
    }
    squeezed[s] = false;
    if (only) continue; // hexdump's last line: the total length
    if (offset < end[s]) throw new InspectInputError('BAD_HEX', `line ${d.line}: offset ${d.text.slice(0, m![1]!.length)} goes back`, d.line);
    const bytes = lineBytes(d.text.slice(m![0].length), form, d.line);
    put(s, bytes);
    last[s] = bytes;
    end[s] = offset + bytes.length;
  }
  flush();
  return { form, twoSided, chunks: out };
}

/** The bytes of one line's hex column (the text after the offset). */
function lineBytes(rest: string, form: HexForm, line: number): Uint8Array {
  let area: string;
  if (form === 'hexdump' && rest.includes('|')) area = rest.slice(0, rest.indexOf('|'));
  else if (form === 'xxd') {
    const gap = rest.indexOf('  ');
    area = gap < 0 ? rest : rest.slice(0, gap);
  } else {
    // two-digit bytes one blank apart, two blanks after the eighth; a wider gap or a non-byte token
    // starts the text column
    const bytes: string[] = [];
    const re = /([0-9a-fA-F]{2})(?=\s|$)(\s*)/y;
    let at = 0;
    let perLine = 0;
    for (;;) {
      re.lastIndex = at;
      const t = re.exec(rest);
      if (!t) break;
      bytes.push(t[1]!);
      perLine++;
      at = re.lastIndex;
      const gap = t[2]!.length;
      if (gap >= 3 || (gap === 2 && perLine !== 8)) break;
    }
    return hexBytes(bytes.join(''));
  }
  const digits = area.replace(/\s+/g, '');
  if (!/^[0-9a-fA-F]*$/.test(digits) || digits.length % 2) {
    throw new InspectInputError('BAD_HEX', `line ${line}: ${JSON.stringify(area.trim().slice(0, 40))} is not a row of hex bytes`, line);
  }
  return hexBytes(digits);
}

function hexBytes(digits: string): Uint8Array {
  const out = new Uint8Array(digits.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.substr(2 * i, 2), 16);
  return out;
}
