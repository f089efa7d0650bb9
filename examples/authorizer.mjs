// An Authorizer (FastCGI role 2): the web server asks it, before serving a request, whether the request
// may go on. It answers 200 to allow, with `Variable-NAME: value` headers that the web server passes to
// the responder as params (here REMOTE_USER); anything else is the response the client gets.
// This one checks a session cookie.
//   node examples/authorizer.mjs 127.0.0.1:9001
import { serve, Role } from 'fcgi-wasm';

const [host, port] = (process.argv[2] ?? '127.0.0.1:9001').split(':');
const SESSIONS = new Map([['s3cr3t', 'ann']]); // a real app looks the session up in its store

serve(
  (request, info) => {
    if (info.role !== Role.AUTHORIZER) return new Response('this app only authorizes\n', { status: 500 });
    const cookie = request.headers.get('cookie') ?? '';
    const session = /(?:^|;\s*)session=([^;]*)/.exec(cookie)?.[1];
    const user = session && SESSIONS.get(session);
    if (!user) return new Response('log in first\n', { status: 401, headers: { 'WWW-Authenticate': 'Cookie realm="example"' } });
    return new Response(null, { status: 200, headers: { 'Variable-REMOTE_USER': user } });
  },
  { listen: { host, port: Number(port) } },
).once('listening', () => console.error('listening'));
