// The synthetic FastCGI streams of the team's codec benchmark (../shared/peers/codec/codec-bench.js),
// rebuilt byte for byte (same generator, same seed, same params), so our figures line up with the
// peers table. Every case also says what a correct parser must count in one pass.
//   small  : 100,000 STDOUT records, content 8..64 bytes, padded to 8-byte alignment
//   large  : 256 STDOUT records of 65,535 bytes (+1 padding) = 16 MiB
//   params : 10,000 request preambles: BEGIN_REQUEST + PARAMS (30 pairs, one 200-byte value that needs
//            the 4-byte length form) + empty PARAMS + empty STDIN
import { Buffer } from 'node:buffer';

const STDOUT = 6, BEGIN_REQUEST = 1, PARAMS = 4, STDIN = 5;

function record(type, id, content) {
  const pad = (8 - (content.length % 8)) % 8;
  const b = Buffer.alloc(8 + content.length + pad);
  b[0] = 1;
  b[1] = type;
  b.writeUInt16BE(id, 2);
  b.writeUInt16BE(content.length, 4);
  b[6] = pad;
  content.copy(b, 8);
  return b;
}

const lengthBytes = (n) => (n > 127 ? Buffer.from([0x80 | (n >>> 24), (n >>> 16) & 255, (n >>> 8) & 255, n & 255]) : Buffer.from([n]));
function pair(name, value) {
  const n = Buffer.from(name, 'latin1'), v = Buffer.from(value, 'latin1');
  return Buffer.concat([lengthBytes(n.length), lengthBytes(v.length), n, v]);
}

export const PARAMS_LIST = [
  ['QUERY_STRING', 'a=1&b=two&c=three'], ['REQUEST_METHOD', 'GET'], ['CONTENT_TYPE', ''], ['CONTENT_LENGTH', ''],
  ['SCRIPT_NAME', '/index.php'], ['REQUEST_URI', '/api/v1/items/12345?a=1&b=two&c=three'], ['DOCUMENT_URI', '/index.php'],
  ['DOCUMENT_ROOT', '/var/www/html'], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['REQUEST_SCHEME', 'http'],
  ['GATEWAY_INTERFACE', 'CGI/1.1'], ['SERVER_SOFTWARE', 'nginx/1.22.1'], ['REMOTE_ADDR', '127.0.0.1'], ['REMOTE_PORT', '51234'],
  ['SERVER_ADDR', '127.0.0.1'], ['SERVER_PORT', '80'], ['SERVER_NAME', 'example.com'], ['REDIRECT_STATUS', '200'],
  ['SCRIPT_FILENAME', '/var/www/html/index.php'], ['PATH_INFO', ''], ['HTTP_HOST', 'example.com'],
  ['HTTP_USER_AGENT', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'],
  ['HTTP_ACCEPT', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'], ['HTTP_ACCEPT_LANGUAGE', 'en-US,en;q=0.5'],
  ['HTTP_ACCEPT_ENCODING', 'gzip, deflate, br'], ['HTTP_CONNECTION', 'keep-alive'],
  ['HTTP_COOKIE', 'session=' + 'abcdef0123456789'.repeat(12)],
  ['HTTP_CACHE_CONTROL', 'max-age=0'], ['HTTP_UPGRADE_INSECURE_REQUESTS', '1'], ['HTTP_X_FORWARDED_FOR', '203.0.113.7'],
];

/**
 * Builds one case cut into `chunkSize`-byte chunks (views of one buffer). `want` is what one pass must
 * count: records; content bytes (small, large; null for params, whose peers do not all expose the length
 * of BEGIN/PARAMS content); pairs and the characters of their names and values.
 */
export function buildCase(name, chunkSize) {
  let seed = 12345; // the peers' LCG: same lengths, same bytes
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
  const parts = [];
  const want = { records: 0, content: 0, pairs: 0, chars: 0 };
  let requests = 0;
  if (name === 'small') {
    for (let i = 0; i < 100000; i++) {
      const n = 8 + Math.floor(rnd() * 57);
      parts.push(record(STDOUT, 1, Buffer.alloc(n, 97 + (i % 26))));
      want.records++;
      want.content += n;
    }
  } else if (name === 'large') {
    const c = Buffer.alloc(65535, 'x');
    for (let i = 0; i < 256; i++) {
      parts.push(record(STDOUT, 1, c));
      want.records++;
      want.content += c.length;
    }
  } else if (name === 'params') {
    const body = Buffer.concat(PARAMS_LIST.map(([n, v]) => pair(n, v)));
    const chars = PARAMS_LIST.reduce((s, [n, v]) => s + n.length + v.length, 0);
    const begin = Buffer.from([0, 1, 1, 0, 0, 0, 0, 0]); // RESPONDER, KEEP_CONN
    const empty = Buffer.alloc(0);
    for (let i = 0; i < 10000; i++) {
      const id = 1 + (i % 64);
      parts.push(record(BEGIN_REQUEST, id, begin), record(PARAMS, id, body), record(PARAMS, id, empty), record(STDIN, id, empty));
      want.records += 4;
      want.pairs += PARAMS_LIST.length;
      want.chars += chars;
      requests++;
    }
    want.content = null;
  } else {
    throw new Error(`unknown case ${name}`);
  }
  const stream = Buffer.concat(parts);
  const chunks = [];
  for (let o = 0; o < stream.length; o += chunkSize) chunks.push(stream.subarray(o, Math.min(o + chunkSize, stream.length)));
  return { name, chunks, bytes: stream.length, requests, want };
}
