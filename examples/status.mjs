// Sending a status other than 200. A FastCGI app speaks CGI: the status travels as a `Status:` header
// line, which the web server turns into the HTTP status line. Both handler styles write it for you.
//   node examples/status.mjs 127.0.0.1:9000
//   /gone     node style:  res.statusCode = 410
//   /later    fetch style: new Response(..., { status: 503, headers: { 'Retry-After': '30' } })
//   /moved    a client redirect: Location with a 301
import { createServer } from 'fcgi-wasm';

const [host, port] = (process.argv[2] ?? '127.0.0.1:9000').split(':');

createServer({ handleSignals: true }, (req, res) => {
  if (req.url === '/gone') {
    res.statusCode = 410; // written as "Status: 410 Gone"
    res.setHeader('Content-Type', 'text/plain');
    res.end('this page is gone\n');
  } else if (req.url === '/later') {
    res.writeHead(503, 'Come Back Later', { 'Retry-After': '30', 'Content-Type': 'text/plain' });
    res.end('busy\n');
  } else if (req.url === '/moved') {
    res.writeHead(301, { Location: 'https://example.org/new-home' });
    res.end();
  } else {
    res.end('ok\n');
  }
}).listen({ host, port: Number(port) });
