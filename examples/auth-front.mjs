// The web server side of the Authorizer flow (what mod_fastcgi's FastCgiAuthorizer did, and nginx's
// auth_request does with a subrequest): an HTTP front end that asks the authorizer app first, answers
// with its refusal as is, or passes the request to the responder app with the authorizer's variables
// added as params.
//   node examples/auth-front.mjs 8080 127.0.0.1:9001 127.0.0.1:9000   (HTTP port, authorizer, responder)
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { Client } from 'fcgi-wasm';

const [port, authAddress, appAddress] = process.argv.slice(2);
const authorizer = new Client({ address: authAddress });
const app = new Client({ address: appAddress });

createServer(async (req, res) => {
  try {
    const verdict = await authorizer.authorize({
      params: { REQUEST_METHOD: req.method, REQUEST_URI: req.url, HTTP_COOKIE: req.headers.cookie ?? '', REMOTE_ADDR: req.socket.remoteAddress ?? '' },
    });
    if (!verdict.allowed) {
      res.writeHead(verdict.status, Object.fromEntries(verdict.headers));
      res.end(verdict.body);
      return;
    }
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers: Object.entries(req.headers).filter(([, v]) => typeof v === 'string'),
      body: hasBody ? Readable.toWeb(req) : undefined,
      duplex: 'half',
    });
    // the authorizer's Variable-NAME values become the responder's params (REMOTE_USER=ann); names are
    // upper-cased, as CGI names are, since a fetch-style authorizer's header names arrive lower-case
    const params = Object.fromEntries(Object.entries(verdict.variables).map(([name, value]) => [name.toUpperCase(), value]));
    const response = await app.fetch(request, { documentRoot: process.cwd(), params });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (e) {
    res.writeHead(502, { 'Content-Type': 'text/plain' });
    res.end(`bad gateway: ${e.message}\n`);
  }
}).listen(Number(port), '127.0.0.1', () => console.error(`listening on http://127.0.0.1:${port}/`));
