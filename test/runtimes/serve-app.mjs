// Our application side in the runtime that runs this script (Deno or Bun, started by interop.test.ts):
//   deno run --allow-net --allow-env serve-app.mjs node|fetch     bun serve-app.mjs node|fetch
// Listens on a free 127.0.0.1 port and prints {"port":N} as one line once it listens. POST .../echo streams
// the body back; anything else answers which runtime and style served it and the request URI. Every
// answer carries X-Runtime (the runtime's own process.versions entry) and X-Connections (FastCGI
// connections accepted so far: with nginx's keep-alive on, sequential requests share one). Runs until
// the test kills it by pid.
import { createServer, serve } from '../../dist/index.js';

const style = process.argv[2];
const runtime = Object.keys(process.versions).find((k) => k === 'deno' || k === 'bun') ?? 'node';
let connections = 0;
const listen = { port: 0, host: '127.0.0.1' };
const ready = (server) => () => console.log(JSON.stringify({ port: server.address().port }));
const meta = () => ({ 'X-Runtime': runtime, 'X-Connections': String(connections) });

let server;
if (style === 'fetch') {
  server = serve(
    (request, info) => {
      if (request.method === 'POST' && new URL(request.url).pathname.endsWith('/echo')) {
        return new Response(request.body, { headers: { ...meta(), 'Content-Type': 'application/octet-stream' } });
      }
      return new Response(`hello from ${runtime} (fetch style) ${info.params.get('REQUEST_URI')}`, { headers: { ...meta(), 'Content-Type': 'text/plain' } });
    },
    { handleSignals: false, listen },
  );
  server.once('listening', ready(server));
} else if (style === 'node') {
  server = createServer((req, res) => {
    for (const [name, value] of Object.entries(meta())) res.setHeader(name, value);
    if (req.method === 'POST' && req.url.endsWith('/echo')) {
      res.setHeader('Content-Type', 'application/octet-stream');
      req.pipe(res);
      return;
    }
    res.setHeader('Content-Type', 'text/plain');
    res.end(`hello from ${runtime} (node style) ${req.url}`);
  });
  server.listen(listen, ready(server));
} else {
  throw new Error(`usage: serve-app.mjs node|fetch, not ${style}`);
}
server.on('connection', () => connections++);
