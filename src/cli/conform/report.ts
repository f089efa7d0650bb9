// The conformance report as text: a table whose cells wrap, then what each departure from the spec
// means for a client, and with --verbose the bytes the app sent.

import type { Style } from '../style.js';
import type { ConformReport, ProbeResult } from './run.js';

/** Column widths of the text table; longer cells wrap at spaces. */
const WIDTHS = [20, 12, 40, 40, 11];

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines;
}

function row(cells: string[], paint: (col: number, text: string) => string = (_c, t) => t): string[] {
  const wrapped = cells.map((c, i) => wrap(c, WIDTHS[i]!));
  const height = Math.max(...wrapped.map((w) => w.length));
  const out: string[] = [];
  for (let l = 0; l < height; l++) {
    out.push(wrapped.map((w, i) => paint(i, (w[l] ?? '').padEnd(WIDTHS[i]!))).join('  ').trimEnd());
  }
  return out;
}

const didText = (r: ProbeResult): string => `${r.did}: ${r.detail}`;

function paintVerdict(s: Style, verdict: string, text: string): string {
  if (verdict === 'pass') return s.green(text);
  if (verdict === 'violation') return s.red(text);
  if (verdict === 'divergence') return s.yellow(text);
  return text;
}

/** `bytes` as hex lines of 32 bytes, at most `max` bytes shown. */
export function hexLines(hex: string, total: number, max = 512): string[] {
  const shown = hex.slice(0, max * 2);
  const lines: string[] = [];
  for (let i = 0; i < shown.length; i += 64) lines.push(shown.slice(i, i + 64).replace(/(..)(?!$)/g, '$1 '));
  const more = total - shown.length / 2;
  if (more > 0) lines.push(`... ${more} more bytes`);
  return lines;
}

export function textReport(report: ConformReport, s: Style, verbose: boolean): string {
  const out: string[] = [];
  out.push(s.bold(`fcgi conform ${report.address}: ${report.results.length} probes in ${(report.ms / 1000).toFixed(1)} s (timeout ${report.timeout} ms each)`), '');
  out.push(...row(['PROBE', 'SPEC', 'THE SPEC SAYS', 'THE APP DID', 'VERDICT']).map(s.bold));
  for (const r of report.results) {
    out.push(...row([r.id, `§${r.spec}`, r.says, didText(r), r.verdict], (col, text) => (col === 4 ? paintVerdict(s, r.verdict, text) : text)));
    if (verbose) {
      out.push(s.dim(`    sent: ${r.sends}`));
      r.replies.forEach((reply, i) => {
        out.push(s.dim(`    connection ${i + 1}: the app sent ${reply.bytes} bytes`));
        for (const line of hexLines(reply.hex, reply.bytes)) out.push(s.dim(`      ${line}`));
      });
    }
  }
  const notable = report.results.filter((r) => r.verdict !== 'pass' && r.did !== 'not run');
  if (notable.length > 0) {
    out.push('', s.bold('What this means for a client:'));
    for (const r of notable) out.push(`  ${paintVerdict(s, r.verdict, r.id)} (${r.verdict}): ${r.meaning}`);
  }
  const c = report.counts;
  out.push('', `${c.pass} pass, ${c.information} information, ${c.divergence} divergence${c.divergence === 1 ? '' : 's'}, ${c.violation} violation${c.violation === 1 ? '' : 's'}`);
  return out.join('\n');
}
