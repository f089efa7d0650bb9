// What a request path names in the gateway's document root, and static files served from it.
//
// Resolution follows the canonical nginx + php-fpm config (try_files $uri $uri/ /index.php): a path
// ending in '/' tries its index file; a script runs only if its file exists (so '/uploads/a.jpg/x.php'
// runs nothing); a file is served; a directory asked for without its '/' is redirected; anything else
// goes to the front controller, if there is one.
//
// `aliases` serve a URL prefix from another directory, as nginx's `alias` in a prefix location
// ('/wp-content' -> '/var/lib/wordpress/wp-content': '/wp-content/a.css' is that directory's a.css); the
// longest prefix wins, and its directory is the root that symbolic links are checked against.
//
// Two rules are stricter than nginx's defaults, because a gateway that promises safety by default
// should not need the snippets every nginx guide adds:
// - dot files and dot directories ('/.env', '/.git/config', '/.htaccess') are refused with 403 before
//   any lookup (so the answer says nothing about which exist), except '/.well-known/' (RFC 8615): what
//   `location ~ /\. { deny all; }` does;
// - a symbolic link is followed only when its target stays inside the document root (nginx's
//   `disable_symlinks` is off by default; a link such as '/etclink -> /etc' would serve the system's
//   files); `symlinks: 'follow'` follows them all.

import { realpath, stat } from 'node:fs/promises';
import { splitScript } from './cgi-params.js';

export interface DocumentRootOptions {
  root: string;
  /** URL prefixes served from other directories: { '/wp-content': '/var/lib/wordpress/wp-content' }. */
  aliases?: Record<string, string>;
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
  | { kind: 'script'; script: string; pathInfo: string; filename: string }
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
  /** [prefix, directory], longest prefix first; neither ends in '/'. */
  private readonly aliases: [string, string][];
  /** Each directory's own path with its links resolved, for inside(). */
  private readonly realDirs = new Map<string, Promise<string | null>>();

  constructor(options: DocumentRootOptions) {
    this.options = options;
    this.root = options.root.replace(/\/+$/, '');
    this.aliases = Object.entries(options.aliases ?? {})
      .map(([prefix, dir]): [string, string] => [`/${prefix.replace(/^\/+|\/+$/g, '')}`, dir.replace(/\/+$/, '')])
      .sort((a, b) => b[0].length - a[0].length);
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
        return this.scriptPattern.test(index) ? this.script(index, '') : this.fileAt(index);
      }
    }
    const [script, pathInfo] = splitScript(path, this.scriptSplitter);
    if (this.scriptPattern.test(script)) {
      // only an existing script file runs: '/uploads/a.jpg/x.php' names no file, so nothing runs
      if (await this.isFile(script)) return (await this.inside(script)) ? this.script(script, pathInfo) : { kind: 'forbidden' };
    } else if (this.options.staticFiles !== false) {
      const file = this.locate(path).filename;
      const s = await this.lookup(file);
      if (s?.isFile() || s?.isDirectory()) {
        if (!(await this.inside(path))) return { kind: 'forbidden' };
        if (s.isFile()) return { kind: 'file', file, size: s.size, mtime: s.mtime };
        if (!path.endsWith('/')) return { kind: 'redirect', location: `${path}/` };
      }
    }
    const front = this.options.frontController;
    if (front && (await this.isFile(front)) && (await this.inside(front))) return this.script(front, '');
    return null;
  }

  /** Where a URL path lives on disk: under the longest alias prefix it starts with, else under the root. */
  private locate(path: string): { dir: string; filename: string } {
    for (const [prefix, dir] of this.aliases) if (path === prefix || path.startsWith(`${prefix}/`)) return { dir, filename: dir + path.slice(prefix.length) };
    return { dir: this.root, filename: this.root + path };
  }

  private script(script: string, pathInfo: string): Target {
    return { kind: 'script', script, pathInfo, filename: this.locate(script).filename };
  }

  private async isFile(path: string): Promise<boolean> {
    return (await this.lookup(this.locate(path).filename))?.isFile() ?? false;
  }

  private async fileAt(path: string): Promise<Target> {
    const file = this.locate(path).filename;
    const s = (await this.lookup(file))!;
    return { kind: 'file', file, size: s.size, mtime: s.mtime };
  }

  /** Whether `path`, with every symbolic link on the way resolved, is still inside its directory (the root, or its alias's). */
  private async inside(path: string): Promise<boolean> {
    if (this.options.symlinks === 'follow') return true;
    const { dir, filename } = this.locate(path);
    let realDir = this.realDirs.get(dir);
    if (realDir === undefined) this.realDirs.set(dir, (realDir = realpath(dir).catch(() => null)));
    const [real, base] = await Promise.all([this.resolveLink(filename), realDir]);
    return real !== null && base !== null && (real === base || real.startsWith(base === '/' ? base : `${base}/`));
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
