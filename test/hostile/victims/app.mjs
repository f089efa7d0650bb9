// The adversarial suite's application-side victim: our server from dist/, with its defaults unless
// VICTIM_OPTIONS (JSON) says otherwise.   <runtime> app.mjs PORT
// Routes: /hold?ms=N answers after N ms; /ignore-body?ms=N never reads its body (or, as a Filter, its
// DATA) and answers after N ms; anything else answers "ok".
import { createServer } from '../../../dist/index.js';

const port = Number(process.argv[2]);
const options = { log: (m) => process.stderr.write(`${m}\n`), ...JSON.parse(process.env.VICTIM_OPTIONS ?? '{}') };
createServer(options, (req, res) => {
  const url = new URL(req.url, 'http://x');
  const ms = Number(url.searchParams.get('ms') ?? 0);
  if (url.pathname === '/hold') return void setTimeout(() => res.end('held'), ms);
  if (url.pathname === '/ignore-body') return void setTimeout(() => res.end('ignored'), ms);
  res.end('ok');
}).listen({ port, host: '127.0.0.1' }, () => process.stderr.write('listening\n'));
