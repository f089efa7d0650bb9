// A file from the document root answered as nginx's static module answers it: Content-Type by
// extension (mime-types.ts), Last-Modified and an ETag made of the mtime and size in nginx's own form
// ("<mtime hex>-<size hex>", so a file answers the same validator through either), conditional requests
// (If-None-Match first, else If-Modified-Since compared exactly, as nginx's `if_modified_since exact`),
// and single byte ranges with If-Range (RFC 9110 14 and 13.1.5): 206, or 416 for a range that starts
// past the end or ends before it starts. A request for several ranges gets the whole file (200), which RFC 9110 14.2 allows.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { contentType } from './mime-types.js';

export interface StaticFile {
  file: string;
  size: number;
  mtime: Date;
}

/**
 * Answers `req` with the file. `asGet`: the file is the target of a local redirect (RFC 3875 6.2.2),
 * whose request's validators and ranges were meant for the original URL: it is answered whole.
 */
export function serveFile(req: IncomingMessage, res: ServerResponse, f: StaticFile, asGet = false): void {
  const modified = f.mtime.toUTCString();
  const etag = `"${Math.floor(f.mtime.getTime() / 1000).toString(16)}-${f.size.toString(16)}"`;
  const validators = { 'Last-Modified': modified, ETag: etag };
  if (!asGet && notModified(req, etag, modified)) {
    res.writeHead(304, validators);
    return void res.end();
  }
  const range = asGet ? null : wantedRange(req, etag, modified, f.size);
  const type = contentType(f.file);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': `bytes */${f.size}`, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 22 });
    return void res.end(req.method === 'HEAD' ? undefined : 'Range Not Satisfiable\n');
  }
  const [start, end] = range ?? [0, f.size - 1];
  const headers: Record<string, string | number> = { 'Content-Type': type, 'Content-Length': end - start + 1, ...validators, 'Accept-Ranges': 'bytes' };
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${f.size}`;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || f.size === 0) return void res.end();
  createReadStream(f.file, { start, end }).on('error', (e) => res.destroy(e)).pipe(res);
}

/** RFC 9110 13.1.2 and 13.2.2: If-None-Match (weak comparison, '*' matches) decides when present; else If-Modified-Since. */
function notModified(req: IncomingMessage, etag: string, modified: string): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const noneMatch = req.headers['if-none-match'];
  if (noneMatch !== undefined) return noneMatch.trim() === '*' || noneMatch.split(',').some((tag) => weak(tag.trim()) === weak(etag));
  return req.headers['if-modified-since'] === modified;
}

const weak = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/**
 * The byte range to answer (first and last byte, inclusive), null for the whole file, or
 * 'unsatisfiable'. Only a single range of a GET is honoured, and only if If-Range (when sent) still
 * matches: a strong ETag, or the exact Last-Modified date.
 */
function wantedRange(req: IncomingMessage, etag: string, modified: string, size: number): [number, number] | 'unsatisfiable' | null {
  const header = req.headers.range;
  if (header === undefined || req.method !== 'GET') return null;
  const ifRange = req.headers['if-range'];
  if (ifRange !== undefined && ifRange !== etag && ifRange !== modified) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.replace(/\s+/g, ''));
  if (!m || (m[1] === '' && m[2] === '')) return null; // not one range we read: the whole file, as RFC 9110 14.2 allows
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return 'unsatisfiable'; // as nginx answers it (RFC 9110 14.1.1 would also allow ignoring it)
  return [start, end];
}
