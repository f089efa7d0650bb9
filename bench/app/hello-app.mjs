// The peers benchmark's three routes (../shared/peers/README.md) served by fcgi-wasm, for
//   EXTRA_APPS='ours=node /abs/bench/app/hello-app.mjs {PORT}' bash ../shared/peers/run-peers.sh
// GET .../hello -> "hello\n"; GET .../big -> 65536 x; POST -> the body echoed. APP_STYLE=fetch for serve().
import { createServer, serve } from '../../dist/index.js';

const big = Buffer.alloc(65536, 'x');
const hello = Buffer.from('hello\n');
const listen = process.argv[2] ? { port: Number(process.argv[2]), host: '127.0.0.1' } : undefined;

if (process.env.APP_STYLE === 'fetch') {
  serve((request) => {
    if (request.method === 'POST') return new Response(request.body, { headers: { 'Content-Type': 'application/octet-stream' } });
    return new Response(request.url.endsWith('/big') ? big : hello, { headers: { 'Content-Type': 'text/plain' } });
  }, { listen });
} else {
  createServer({ handleSignals: true }, (req, res) => {
    if (req.method === 'POST') {
      res.setHeader('Content-Type', 'application/octet-stream');
      req.pipe(res);
      return;
    }
    res.setHeader('Content-Type', 'text/plain');
    res.end(req.url.endsWith('/big') ? big : hello);
  }).listen(listen);
}
