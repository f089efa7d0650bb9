// CGI/1.1 params for a Request (RFC 3875 section 4.1), as nginx's fastcgi_params would send them, with
// the usual gateway precautions: the script stays inside the document root, no HTTP_PROXY (httpoxy).

import { posix } from 'node:path';
import { FastCGIError } from '../codec/errors.js';

export interface CgiParamsOptions {
  /** The document root (DOCUMENT_ROOT); SCRIPT_FILENAME is resolved inside it. */
  documentRoot: string;
  /** A fixed script for every request (a front controller), instead of the one the path names. */
  scriptFilename?: string;
  /** Appended to a path that ends in '/' (default 'index.php'). */
  index?: string;
  /** Where the script name ends in the path, for PATH_INFO (default: after the first '.php'). */
  scriptPattern?: RegExp;
  /** The script and PATH_INFO already found (the gateway looked them up on disk): no split by pattern. */
  script?: { name: string; pathInfo: string };
  remoteAddress?: string;
  remotePort?: number;
  serverAddress?: string;
  serverSoftware?: string;
}

/** The path of a URL, percent-decoded and normalised; throws BAD_PATH for NUL or a path leaving the root. */
export function safePath(pathname: string): string {
  // the common case, a plain path (no escapes, no dot segment, no empty segment, no backslash), is already normal
  if (PLAIN_PATH.test(pathname)) return pathname;
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    throw new FastCGIError('BAD_PATH', `the request path is not valid percent-encoding: ${JSON.stringify(pathname)}`);
  }
  if (decoded.includes('\0')) throw new FastCGIError('BAD_PATH', 'the request path contains a NUL byte');
  if (decoded.includes('\\')) throw new FastCGIError('BAD_PATH', 'the request path contains a backslash');
  const normalized = posix.normalize(decoded.startsWith('/') ? decoded : `/${decoded}`);
  if (normalized.split('/').includes('..')) throw new FastCGIError('BAD_PATH', `the request path leaves the document root: ${JSON.stringify(pathname)}`);
  return normalized;
}

/** A path that decoding and normalising would leave as it is. */
const PLAIN_PATH = /^(?=\/)(?:\/(?!\.{1,2}(?:\/|$))[^/%\\\0]+)*\/?$/;

/** Splits a path into the script and the PATH_INFO after it ('/a.php/x' -> ['/a.php', '/x']). */
export function splitScript(path: string, pattern = /^(.+?\.php)(\/.*)?$/): [string, string] {
  const m = pattern.exec(path);
  return m ? [m[1]!, m[2] ?? ''] : [path, ''];
}

/** The parts of a request URL the params use (a URL has them; the gateway splits them from req.url itself). */
export type UrlParts = Pick<URL, 'pathname' | 'search' | 'hostname' | 'port' | 'protocol'>;

/** What the params are built from: a Request, or the parts of a node:http request. */
export interface RequestParts {
  url: UrlParts;
  method: string;
  /** Lower-case names, as a Request's Headers give them. */
  headers?: Iterable<[string, string]>;
  /** Or node's req.rawHeaders, [name, value, name, value...] as sent. */
  rawHeaders?: string[];
  /** Whether a body follows (CONTENT_LENGTH is then sent, "0" included). */
  hasBody: boolean;
}

export function cgiParamsFor(request: Request, contentLength: number, options: CgiParamsOptions): Record<string, string> {
  return cgiParams({ url: new URL(request.url), method: request.method, headers: request.headers, hasBody: request.body !== null }, contentLength, options);
}

export function cgiParams(request: RequestParts, contentLength: number, options: CgiParamsOptions): Record<string, string> {
  const url = request.url;
  let scriptName: string;
  let pathInfo: string;
  if (options.script) ({ name: scriptName, pathInfo } = options.script);
  else {
    let path = safePath(url.pathname);
    if (path.endsWith('/')) path += options.index ?? 'index.php';
    [scriptName, pathInfo] = options.scriptFilename ? [path, ''] : splitScript(path, options.scriptPattern);
  }
  const root = options.documentRoot.replace(/\/+$/, '');
  const https = url.protocol === 'https:';
  const params: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: options.serverSoftware ?? 'fcgi-wasm',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_SCHEME: https ? 'https' : 'http',
    REQUEST_METHOD: request.method,
    REQUEST_URI: url.pathname + url.search,
    DOCUMENT_URI: scriptName,
    QUERY_STRING: url.search.slice(1),
    SCRIPT_NAME: scriptName,
    SCRIPT_FILENAME: options.scriptFilename ?? root + scriptName,
    PATH_INFO: pathInfo,
    DOCUMENT_ROOT: root,
    SERVER_NAME: url.hostname,
    SERVER_PORT: url.port || (https ? '443' : '80'),
    SERVER_ADDR: options.serverAddress ?? '127.0.0.1',
    REMOTE_ADDR: options.remoteAddress ?? '127.0.0.1',
    REMOTE_PORT: String(options.remotePort ?? 0),
    REDIRECT_STATUS: '200', // php-cgi's force-redirect check; php-fpm ignores it
    CONTENT_TYPE: '',
    // RFC 3875 4.1.2: the length of the body actually sent, never what the client claimed
    CONTENT_LENGTH: contentLength > 0 || request.hasBody ? String(contentLength) : '',
  };
  if (https) params.HTTPS = 'on';
  if (pathInfo) params.PATH_TRANSLATED = root + pathInfo;
  const raw = request.rawHeaders;
  if (raw) for (let i = 0; i + 1 < raw.length; i += 2) addHeader(params, raw[i]!.toLowerCase(), raw[i + 1]!);
  for (const [name, value] of request.headers ?? []) addHeader(params, name, value);
  return params;
}

/** One request header as its param; a repeated header joins the first (with ', ', or '; ' for cookies, as nginx does). */
function addHeader(params: Record<string, string>, name: string, value: string): void {
  if (name === 'content-type') {
    if (params.CONTENT_TYPE === '') params.CONTENT_TYPE = value;
    return;
  }
  if (name === 'content-length') return;
  if (name === 'proxy') return; // httpoxy: a client must not set HTTP_PROXY for the app
  // 'X_Real_IP' would become the same param as 'X-Real-IP' and could pose as a header a proxy in front
  // set: dropped, as nginx does by default (underscores_in_headers off)
  if (name.includes('_')) return;
  const key = paramName(name);
  const before = params[key];
  params[key] = before === undefined ? value : `${before}${name === 'cookie' ? '; ' : ', '}${value}`;
}

/** HTTP_* names of header names seen (a handful of names recur in every request), at most 1000 of them. */
const PARAM_NAMES = new Map<string, string>();
function paramName(header: string): string {
  let key = PARAM_NAMES.get(header);
  if (key === undefined) {
    key = `HTTP_${header.toUpperCase().replace(/-/g, '_')}`;
    if (PARAM_NAMES.size >= 1000) PARAM_NAMES.clear();
    PARAM_NAMES.set(header, key);
  }
  return key;
}
