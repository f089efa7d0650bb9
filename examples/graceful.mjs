// Signals: SIGTERM (and SIGUSR1, SIGINT) stop accepting, let the requests in flight finish, then exit 0;
// new requests meanwhile get FCGI_OVERLOADED, so the web server tries another process. SIGPIPE (a web
// server that hung up) never kills the app. `handleSignals` is on by default for serve().
//   node examples/graceful.mjs 127.0.0.1:9000     then: GET /slow?ms=1000, and kill -TERM the app
import { serve } from 'fcgi-wasm';

const [host, port] = (process.argv[2] ?? '127.0.0.1:9000').split(':');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const server = serve(
  async (request) => {
    const url = new URL(request.url);
    const ms = Number(url.searchParams.get('ms') ?? 0);
    console.error(`started ${url.pathname}${url.search}`);
    await sleep(ms);
    return new Response(`done after ${ms} ms\n`, { headers: { 'Content-Type': 'text/plain' } });
  },
  {
    listen: { host, port: Number(port) },
    gracePeriod: 10_000, // at most this long for the requests in flight, then the connections are cut
    log: (message) => console.error(message), // "SIGTERM: finishing 1 request(s), then exiting"
  },
);
server.once('listening', () => console.error('listening'));
