// A responder that trusts the REMOTE_USER param its web server set (after the authorizer allowed it).
//   node examples/whoami.mjs 127.0.0.1:9000
import { serve } from 'fcgi-wasm';

const [host, port] = (process.argv[2] ?? '127.0.0.1:9000').split(':');
serve((request, info) => new Response(`hello ${info.params.get('REMOTE_USER') ?? 'stranger'}\n`, { headers: { 'Content-Type': 'text/plain' } }), {
  listen: { host, port: Number(port) },
}).once('listening', () => console.error('listening'));
