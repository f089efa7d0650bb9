// The CGI response an app writes on STDOUT (RFC 3875 section 6): header lines (LF or CRLF), an empty
// line, then the body. Parsed incrementally, since headers may be split anywhere across records (X16).

import { FastCGIError } from '../codec/errors.js';
import { latin1 } from '../codec/pairs.js';
import { concatBytes } from '../codec/bytes.js';

export interface CgiHead {
  /** From `Status:`; 302 for a `Location:` without one (a client redirect); else 200. */
  status: number;
  statusText: string;
  /** Every header but Status, in order, names as sent (repeated ones kept). */
  headers: [string, string][];
  location: string | undefined;
  /**
   * A Location that is a local path, with no Status or Status 200: the gateway re-dispatches it (RFC
   * 3875 6.2.2). Other headers are tolerated, as Apache does: PHP always adds a Content-Type.
   */
  localRedirect: boolean;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A byte no header value may hold (RFC 9110 5.5: controls other than HTAB, and DEL): a web server would refuse to send it. */
const BAD_VALUE_BYTE = /[^\t\x20-\x7e\x80-\xff]/;
const REASONS: Record<number, string> = { 200: 'OK', 302: 'Found' };

export class CgiResponseParser {
  private readonly limit: number;
  private buffered: Uint8Array[] = [];
  private size = 0;
  private head: CgiHead | null = null;

  /** `limit`: most header bytes accepted (HEADERS_TOO_LARGE beyond). */
  constructor(limit = 64 * 1024) {
    this.limit = limit;
  }

  get headComplete(): boolean {
    return this.head !== null;
  }
  /** Bytes seen before the head was complete. */
  get pendingBytes(): number {
    return this.size;
  }

  /**
   * Feeds STDOUT bytes. Before the head is complete, returns null; then, once, the head and the body
   * bytes that followed it in this chunk; after that, the chunk itself as body.
   */
  push(chunk: Uint8Array): { head: CgiHead | null; body: Uint8Array } | null {
    if (this.head) return { head: null, body: chunk };
    this.buffered.push(chunk);
    this.size += chunk.length;
    const all = this.buffered.length === 1 ? chunk : concatBytes(this.buffered, this.size);
    this.buffered = [all];
    const end = findHeadEnd(all);
    if (end === null) {
      if (this.size > this.limit) throw new FastCGIError('HEADERS_TOO_LARGE', `the CGI response headers exceed ${this.limit} bytes`);
      return null;
    }
    this.head = parseHead(latin1(all, 0, end.headEnd));
    const body = all.subarray(end.bodyStart);
    this.buffered = [];
    this.size = 0;
    return { head: this.head, body };
  }

  /** End of STDOUT: throws INCOMPLETE_HEADERS if the head never ended. */
  end(): void {
    if (this.head) return;
    throw new FastCGIError('INCOMPLETE_HEADERS', `incomplete headers (${this.size} bytes): the app's response ended before the empty line that ends the CGI headers`);
  }
}

/** Where the empty line (LF or CRLF) that ends the head starts, and where the body starts; null if not yet. */
function findHeadEnd(b: Uint8Array): { headEnd: number; bodyStart: number } | null {
  let lineStart = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== 10) continue;
    const length = i - lineStart;
    if (length === 0 || (length === 1 && b[lineStart] === 13)) return { headEnd: lineStart, bodyStart: i + 1 };
    lineStart = i + 1;
  }
  return null;
}

function parseHead(text: string): CgiHead {
  const headers: [string, string][] = [];
  let status: number | undefined;
  let statusText = '';
  let location: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    const value = line.slice(colon + 1).trim();
    if (!TOKEN.test(name) || BAD_VALUE_BYTE.test(value)) {
      throw new FastCGIError('BAD_CGI_HEADER', `the app sent an invalid CGI header line: ${JSON.stringify(line.slice(0, 80))}`);
    }
    const lower = name.toLowerCase();
    if (lower === 'status') {
      // a final status (no 1xx: a CGI response cannot be interim), in the range a Response allows
      const m = /^([2-5]\d\d)(?:\s+(.*))?$/.exec(value);
      if (!m) throw new FastCGIError('BAD_CGI_STATUS', `the app sent an invalid Status header: ${JSON.stringify(value)}`);
      status = Number(m[1]);
      statusText = m[2] ?? '';
      continue;
    }
    if (lower === 'location') location = value;
    headers.push([name, value]);
  }
  const localRedirect = (status === undefined || status === 200) && location !== undefined && location.startsWith('/') && !location.startsWith('//');
  const code = status ?? (location !== undefined ? 302 : 200);
  return { status: code, statusText: statusText || REASONS[code] || '', headers, location, localRedirect };
}

