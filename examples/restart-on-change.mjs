// Restart on a new version: with `restartOnChange`, the app exits (status 0) after its current requests
// once its script's mtime moves, and whatever started it starts the new version: a process manager
// (mod_fastcgi's autoUpdate; `fcgi spawn` restarts a child that exits), or the loop in docs/faq.md.
// true watches this entry script; a path watches that file (a bundle, a config).
//   node examples/restart-on-change.mjs 127.0.0.1:9000 [FILE]
import { serve } from 'fcgi-wasm';

const [host, port] = (process.argv[2] ?? '127.0.0.1:9000').split(':');
const VERSION = new Date().toISOString(); // when this copy started: changes with each restart

serve(() => new Response(`version started at ${VERSION}, pid ${process.pid}\n`), {
  listen: { host, port: Number(port) },
  restartOnChange: process.argv[3] ?? true,
  log: (message) => console.error(message), // "... changed; exiting after the requests in flight"
}).once('listening', () => console.error('listening'));
