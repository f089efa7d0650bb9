// Our Client in the runtime that runs this script (Deno or Bun, started by interop.test.ts) against
// php-fpm: deno run --allow-net --allow-env client-php.mjs ADDRESS DOCROOT (bun: the same
// without flags). Makes a GET with a query, a POST of a few hundred KB, a request to a page that writes
// to stderr, and a client and a local Location redirect; prints what came back as one JSON line.
import { createHash } from 'node:crypto';
import { Client } from '../../dist/index.js';

const [address, documentRoot] = process.argv.slice(2);
const runtime = Object.keys(process.versions).find((k) => k === 'deno' || k === 'bun') ?? 'node';
const client = new Client({ address, maxConnections: 2, timeouts: { total: 20_000 } });
const latin1 = (bytes) => new TextDecoder('latin1').decode(bytes);

const get = await client.fetch('http://site.test/index.php?a=1&b=two%20words', { documentRoot });
const getReply = { status: get.status, type: get.headers.get('content-type'), json: await get.json() };

// 300 KB that are not all one byte, sent as a Uint8Array
const body = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31 + (i >> 10)) & 255);
const post = await client.fetch(new Request('http://site.test/post.php', { method: 'POST', body }), { documentRoot });
const postReply = { status: post.status, text: await post.text(), sent: `${body.length} ${createHash('md5').update(body).digest('hex')} ${body.length}` };

const logged = await client.call({ params: { SCRIPT_FILENAME: `${documentRoot}/stderr.php`, REQUEST_METHOD: 'GET' } });
const stderrReply = { stdout: latin1(logged.stdout), stderr: latin1(logged.stderr), appStatus: logged.appStatus };

const away = await client.fetch('http://site.test/redirect.php', { documentRoot });
const awayReply = { status: away.status, location: away.headers.get('location') };
await away.arrayBuffer();
const local = await client.fetch('http://site.test/redirect.php?to=local', { documentRoot });
const localReply = { status: local.status, json: await local.json() };

client.close();
console.log(JSON.stringify({ runtime, get: getReply, post: postReply, stderr: stderrReply, redirect: awayReply, localRedirect: localReply }));
