// Byte counts with a bounded preview: a body of any size keeps at most `limit` of its first bytes.

import type { BytesPreview } from './types.js';

const EMPTY = new Uint8Array(0);

export function emptyPreview(): BytesPreview {
  return { bytes: 0, preview: EMPTY };
}

/** An empty stream (STDIN, DATA): its bytes so far and whether its empty record came. */
export function emptyStream(): BytesPreview & { complete: boolean } {
  return { bytes: 0, preview: EMPTY, complete: false };
}

/** Counts `add` into `p`, copying from it only while the preview is shorter than `limit`. */
export function extendPreview(p: BytesPreview, add: Uint8Array, limit: number): void {
  p.bytes += add.length;
  const room = limit - p.preview.length;
  if (room <= 0 || add.length === 0) return;
  const take = Math.min(room, add.length);
  const next = new Uint8Array(p.preview.length + take);
  next.set(p.preview, 0);
  next.set(add.subarray(0, take), p.preview.length);
  p.preview = next;
}
