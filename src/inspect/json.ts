// The report as plain JSON: byte previews become text when they are readable UTF-8, else base64.

import type { BytesPreview, Exchange, InspectReport } from './types.js';

export interface JsonPreview {
  bytes: number;
  /** The preview as text, when it is UTF-8 with no control characters but tab, CR and LF. */
  text?: string;
  /** Otherwise the preview in base64. */
  base64?: string;
  /** True when the preview holds fewer bytes than the stream had. */
  truncated: boolean;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function previewToJSON(p: BytesPreview): JsonPreview {
  const out: JsonPreview = { bytes: p.bytes, truncated: p.preview.length < p.bytes };
  const text = readableText(p.preview, p.preview.length < p.bytes);
  if (text !== null) out.text = text;
  else out.base64 = base64(p.preview);
  return out;
}

/** The bytes as text when they are readable UTF-8 (a cut multi-byte character at the end allowed). */
export function readableText(b: Uint8Array, cut: boolean): string | null {
  for (let end = b.length; end >= Math.max(0, b.length - (cut ? 3 : 0)); end--) {
    let s: string;
    try {
      s = strictUtf8.decode(b.subarray(0, end));
    } catch {
      continue;
    }
    // eslint-disable-next-line no-control-regex
    return /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(s) ? null : s;
  }
  return null;
}

function base64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  return btoa(s);
}

/** A JSON.stringify replacer that renders a report's previews as text or base64 (one pass, for big reports). */
export function reportReplacer(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && (value as { preview?: unknown }).preview instanceof Uint8Array) {
    const { preview: _p, bytes: _b, ...rest } = value as BytesPreview & Record<string, unknown>;
    return { ...rest, ...previewToJSON(value as BytesPreview) };
  }
  return value;
}

/**
 * A copy of the report as plain JSON values (previews as text or base64): the previews are replaced
 * where they are (stdin, data, body, stderr), the rest shared, so that JSON.stringify needs no replacer.
 */
export function reportToJSON(report: InspectReport): unknown {
  return { ...report, conversations: report.conversations.map((c) => ({ ...c, exchanges: c.exchanges.map(exchangeToJSON) })) };
}

function exchangeToJSON(e: Exchange): unknown {
  const out: Record<string, unknown> = { ...e, stdin: streamToJSON(e.stdin) };
  if (e.data) out.data = streamToJSON(e.data);
  if (e.response) out.response = { ...e.response, body: previewToJSON(e.response.body), stderr: previewToJSON(e.response.stderr) };
  return out;
}

function streamToJSON(p: BytesPreview & { complete: boolean }): unknown {
  return { complete: p.complete, ...previewToJSON(p) };
}
