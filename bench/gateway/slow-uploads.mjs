// Two roles for bench/gateway/slow-uploads.sh, each run in a process of its own so that neither skews
// the other's timing:
//   node slow-uploads.mjs attack PORT COUNT    COUNT uploads that announce a 512 KiB body and send 1 KiB
//                                              of it every 250 ms, until killed
//   node slow-uploads.mjs measure URL COUNT    COUNT GETs of URL one after another (keep-alive); prints
//                                              {"p50":..,"p99":..,"max":..,"errors":..} in ms
import { connect } from 'node:net';
import { Agent, request } from 'node:http';

const [role, target, count] = process.argv.slice(2);
const n = Number(count);

if (role === 'attack') {
  const sockets = [];
  const piece = Buffer.alloc(1024, 'u');
  for (let i = 0; i < n; i++) {
    const s = connect(Number(target), '127.0.0.1');
    s.on('error', () => {});
    s.write(`POST /post.php HTTP/1.1\r\nHost: bench\r\nContent-Type: application/octet-stream\r\nContent-Length: ${512 * 1024}\r\n\r\n`);
    sockets.push(s);
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
  }
  setInterval(() => sockets.forEach((s) => s.writable && s.write(piece)), 250);
  console.log('attacking');
} else {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times = [];
  let errors = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const status = await new Promise((resolve) => {
      const req = request(target, { agent, timeout: 10_000 }, (res) => res.resume().on('end', () => resolve(res.statusCode)));
      req.on('error', () => resolve(0)).on('timeout', () => req.destroy());
      req.end();
    });
    if (status !== 200) errors++;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  console.log(JSON.stringify({ p50: +q(0.5).toFixed(2), p99: +q(0.99).toFixed(2), max: +times.at(-1).toFixed(2), errors }));
  agent.destroy();
}
