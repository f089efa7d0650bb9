// The adversarial suite's client-side victim: our Client from dist/ against a hostile app, then a normal
// request to a good app.   <runtime> client.mjs MODE HOSTILE_ADDRESS GOOD_ADDRESS
// MODE: fetch (a fetch() while the app floods stderr), call (a call() while it floods stdout),
// request (a request() whose stdout is never read), trickle (an app that dribbles a record byte by byte).
// Prints one JSON line {outcome, stderrSeen, normalMs}, then waits for stdin to close (so that the test
// reads its peak RSS while it lives).
import { Client } from '../../../dist/index.js';

const [mode, hostile, good] = process.argv.slice(2);
// trickle: a byte every 50 ms resets a read timer once bytes are delivered as they come; total bounds it whatever
const client = new Client({ address: hostile, timeouts: mode === 'trickle' ? { firstByte: 500, idle: 500, total: 2000 } : {} });
let stderrSeen = 0;
client.on('stderr', (chunk) => (stderrSeen += chunk.length));
let outcome;
try {
  if (mode === 'fetch') outcome = `${(await client.fetch('http://site.test/', { documentRoot: '/srv' }).then((r) => r.text())).length} body bytes`;
  else if (mode === 'call') outcome = `${(await client.call({ params: { REQUEST_URI: '/' } })).stdout.length} stdout bytes`;
  else if (mode === 'request') {
    const reply = await client.request({ params: { REQUEST_URI: '/' } });
    await reply.head; // the head is read, the body never is
    await new Promise((r) => setTimeout(r, 3000));
    await reply.stdout.cancel();
    outcome = 'cancelled after 3 s';
  } else outcome = `${(await client.call({ params: { REQUEST_URI: '/' } })).stdout.length} stdout bytes`;
} catch (e) {
  outcome = e.code ?? e.message;
}
client.close();
const normal = new Client({ address: good });
const t0 = performance.now();
const answer = await normal.call({ params: { REQUEST_URI: '/' } });
const normalMs = performance.now() - t0;
normal.close();
console.log(JSON.stringify({ outcome, stderrSeen, normalMs, normal: Buffer.from(answer.stdout).toString('latin1') }));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
