// Byte arrays for the hot path. Small ones are carved out of shared slabs, as Node's Buffer.allocUnsafe
// does: an ArrayBuffer of its own costs a malloc, a backing-store record and a sweep by the collector,
// and a request pays that for each of its handful of small records. A slab is never handed out twice:
// it is freed when no view of it is left, and every view starts zeroed, as `new Uint8Array(n)` does.
//
// Only for bytes the library writes to a socket and drops: an array handed to a caller must own its
// buffer (its `.buffer` is its data, and transferring it must not detach other requests' records).

const SLAB_BYTES = 16 * 1024;
/** Arrays longer than this get an ArrayBuffer of their own. */
const SMALL = 2 * 1024;
let slab = new ArrayBuffer(0);
let slabUsed = 0;

/** A zeroed array of `n` bytes (a view into a shared slab when small: its `.buffer` is the slab). */
export function allocBytes(n: number): Uint8Array {
  if (n > SMALL) return new Uint8Array(n);
  if (slabUsed + n > SLAB_BYTES || slab.byteLength === 0) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  slabUsed = (slabUsed + n + 7) & ~7; // 8-aligned, as malloc would
  return out;
}

/** A copy of `bytes` that owns no memory the caller may reuse (a wasm memory view, a read buffer). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = allocBytes(bytes.length);
  out.set(bytes);
  return out;
}

/**
 * The parts, back to back in one new array (`size`: their total length, when the caller knows it;
 * `out`: where to put them, e.g. allocBytes(size) for bytes bound for a socket).
 */
export function concatBytes(parts: Uint8Array[], size = parts.reduce((n, p) => n + p.length, 0), out: Uint8Array = new Uint8Array(size)): Uint8Array {
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
