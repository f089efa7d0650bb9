// The smallest FastCGI app: answers "hello" and the path it was asked for.
//   node examples/hello.mjs 127.0.0.1:9000    listen on a TCP address (an app you start by hand)
//   node examples/hello.mjs /tmp/hello.sock   listen on a Unix socket
//   node examples/hello.mjs                   fd 0 when a web server or process manager started it
//                                             (cgi-fcgi -connect, fcgi spawn), else answer once as CGI
import { serve } from 'fcgi-wasm';

const where = process.argv[2];
const listen = where === undefined ? undefined : /^[\d.]+:\d+$/.test(where) ? { host: where.split(':')[0], port: Number(where.split(':')[1]) } : where;

serve((request) => new Response(`hello from ${new URL(request.url).pathname}\n`, { headers: { 'Content-Type': 'text/plain' } }), { listen });
