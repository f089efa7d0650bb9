// What a request path names in the gateway's document root, and static files served from it.
//
// Resolution follows the canonical nginx + php-fpm config (try_files $uri $uri/ /index.php): a path
// ending in '/' tries its index file; a script runs only if its file exists (so '/uploads/a.jpg/x.php'
// runs nothing); a file is served; a directory asked for without its '/' is redirected; anything else
// goes to the front controller, if there is one.
//
// Two rules are stricter than nginx's defaults, because a gateway that promises safety by default
// should not need the snippets every nginx guide adds:
// - dot files and dot directories ('/.env', '/.git/config', '/.htaccess') are refused with 403 before
//   any lookup (so the answer says nothing about which exist), except '/.well-known/' (RFC 8615): what
//   `location ~ /\. { deny all; }` does;
// - a symbolic link is followed only when its target stays inside the document root (nginx's
//   `disable_symlinks` is off by default; a link such as '/etclink -> /etc' would serve the system's
//   files); `symlinks: 'follow'` follows them all.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { splitScript } from './cgi-params.js';

export interface DocumentRootOptions {
  root: string;
  /** Tried for a path ending in '/' (default 'index.php'). */
  index?: string;
  /** What is a script (default /\.php$/). */
  scriptPattern?: RegExp;
  /** Missing files go to this script (e.g. '/index.php'). */
  frontController?: string;
  /** Serve non-script files (default true). */
  staticFiles?: boolean;
  /** How long a lookup is remembered, ms, as nginx's open_file_cache (default 1000; 0 = never). */
  fileCacheTime?: number;
  /** 'deny' (default): paths with a segment starting with '.' get 403, but '/.well-known/'. */
  dotfiles?: 'deny' | 'allow';
  /** 'inside' (default): a symbolic link is followed only to a target inside the root. */
  symlinks?: 'inside' | 'follow';
}

export type Target =
  | { kind: 'script'; script: string; pathInfo: string }
  | { kind: 'file'; file: string; size: number; mtime: Date }
  | { kind: 'redirect'; location: string }
  | { kind: 'forbidden' }
  | null;

type FileInfo = { isFile(): boolean; isDirectory(): boolean; size: number; mtime: Date } | null;

export class DocumentRoot {
  readonly root: string;
  private readonly options: DocumentRootOptions;
  private readonly scriptPattern: RegExp;
  /** Where the script ends in a path ('/a.php/x' -> '/a.php', '/x'), with the pattern's own flags (/i...). */
  private readonly scriptSplitter: RegExp;
  private readonly lookup: (path: string) => Promise<FileInfo>;
  private readonly resolveLink: (path: string) => Promise<string | null>;
  private realRoot: Promise<string | null> | null = null;

  constructor(options: DocumentRootOptions) {
    this.options = options;
    this.root = options.root.replace(/\/+$/, '');
    this.scriptPattern = options.scriptPattern ?? /\.php$/;
    this.scriptSplitter = new RegExp(`^(.+?${this.scriptPattern.source.replace(/\$$/, '')})(/.*)?$`, this.scriptPattern.flags.replace(/[gy]/g, ''));
    const ttl = options.fileCacheTime ?? 1000;
    this.lookup = cached(ttl, (path) => stat(path).catch(() => null));
    this.resolveLink = cached(ttl, (path) => realpath(path).catch(() => null));
  }

  /** What `path` (already decoded and normalised: safePath) names. */
  async resolve(path: string): Promise<Target> {
    if (this.options.dotfiles !== 'allow' && hidden(path)) return { kind: 'forbidden' };
    if (path.endsWith('/')) {
      const index = path + (this.options.index ?? 'index.php');
      if (await this.isFile(index)) {
        if (!(await this.inside(index))) return { kind: 'forbidden' };
        return this.scriptPattern.test(index) ? { kind: 'script', script: index, pathInfo: '' } : this.fileAt(index);
      }
    }
    const [script, pathInfo] = splitScript(path, this.scriptSplitter);
    if (this.scriptPattern.test(script)) {
      // only an existing script file runs: '/uploads/a.jpg/x.php' names no file, so nothing runs
      if (await this.isFile(script)) return (await this.inside(script)) ? { kind: 'script', script, pathInfo } : { kind: 'forbidden' };
    } else if (this.options.staticFiles !== false) {
      const s = await this.lookup(this.root + path);
      if (s?.isFile() || s?.isDirectory()) {
        if (!(await this.inside(path))) return { kind: 'forbidden' };
        if (s.isFile()) return { kind: 'file', file: this.root + path, size: s.size, mtime: s.mtime };
        if (!path.endsWith('/')) return { kind: 'redirect', location: `${path}/` };
      }
    }
    const front = this.options.frontController;
    if (front && (await this.isFile(front)) && (await this.inside(front))) return { kind: 'script', script: front, pathInfo: '' };
    return null;
  }

  private async isFile(path: string): Promise<boolean> {
    return (await this.lookup(this.root + path))?.isFile() ?? false;
  }

  private async fileAt(path: string): Promise<Target> {
    const s = (await this.lookup(this.root + path))!;
    return { kind: 'file', file: this.root + path, size: s.size, mtime: s.mtime };
  }

  /** Whether `path`, with every symbolic link on the way resolved, is still inside the root. */
  private async inside(path: string): Promise<boolean> {
    if (this.options.symlinks === 'follow') return true;
    const [real, root] = await Promise.all([this.resolveLink(this.root + path), (this.realRoot ??= realpath(this.root).catch(() => null))]);
    return real !== null && root !== null && (real === root || real.startsWith(root === '/' ? root : `${root}/`));
  }
}

/** A path (normalised: no '..') with a segment that starts with '.', outside '/.well-known/'. */
function hidden(path: string): boolean {
  const rest = path === '/.well-known' || path.startsWith('/.well-known/') ? path.slice('/.well-known'.length) : path;
  return rest.includes('/.');
}

/** An async lookup whose results (found or not) are remembered for `ttl` ms, at most 10,000 of them. */
function cached<T>(ttl: number, look: (path: string) => Promise<T>): (path: string) => Promise<T> {
  const cache = new Map<string, { at: number; value: Promise<T> }>();
  return (path) => {
    const now = Date.now();
    const hit = cache.get(path);
    if (hit && now - hit.at < ttl) return hit.value;
    const value = look(path);
    if (ttl > 0) {
      if (cache.size >= 10_000) cache.clear();
      cache.set(path, { at: now, value });
    }
    return value;
  };
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8', '.txt': 'text/plain; charset=utf-8', '.css': 'text/css',
  '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp', '.ico': 'image/x-icon', '.wasm': 'application/wasm',
  '.pdf': 'application/pdf', '.xml': 'application/xml',
};

/** A file from the document root; `asGet`: the target of a local redirect (RFC 3875 6.2.2), never a 304 for the original URL's If-Modified-Since. */
export function serveFile(req: IncomingMessage, res: ServerResponse, f: { file: string; size: number; mtime: Date }, asGet = false): void {
  const modified = f.mtime.toUTCString();
  if (!asGet && req.headers['if-modified-since'] === modified) {
    res.writeHead(304);
    return void res.end();
  }
  res.writeHead(200, { 'Content-Type': MIME[extname(f.file).toLowerCase()] ?? 'application/octet-stream', 'Content-Length': f.size, 'Last-Modified': modified });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(f.file).on('error', (e) => res.destroy(e)).pipe(res);
}
