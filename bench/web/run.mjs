// The inspector page on a ~100 MB capture of real loopback traffic (bench/web/make-capture.sh), in
// headless Chromium from file://: time to the first requests on screen and to the end of the decoding,
// MB/s and requests/s, next to `tshark -r FILE -d tcp.port==PORT,fcgi` (and `fcgi inspect` when the
// CLI has it) on the same file, as ratios; and how fast the page answers input while it decodes
// (clicks on the composer through the browser's input pipeline, and the longest gap between frames).
// usage: node bench/web/run.mjs [CAPTURE PORT]   (after npm run build; makes the capture when none is given;
// bench/inspect's capture works too: build/bench-inspect.pcap and the port in build/bench-inspect.pcap.json)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../../test/chromium.mjs';
import { ROOT, PAGE_URL, buildPage, loadCapture } from './page.mjs';

const scratch = mkdtempSync(join(tmpdir(), 'fcgi-web-bench-'));
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

try {
  let [capture, port] = process.argv.slice(2);
  if (!capture) {
    capture = join(scratch, 'loopback.pcap');
    console.error(`capturing ~${process.env.TARGET_MB ?? 100} MB of nginx -> app traffic...`);
    port = execFileSync('bash', [join(ROOT, 'bench/web/make-capture.sh'), capture], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  }
  const bytes = statSync(capture).size;
  const MB = bytes / 1e6;

  // tshark: the whole file through its FastCGI dissector, packet summaries to /dev/null
  let t0 = process.hrtime.bigint();
  const ts = spawnSync('tshark', ['-r', capture, '-d', `tcp.port==${port},fcgi`], { stdio: ['ignore', 'ignore', 'ignore'] });
  if (ts.status !== 0) throw new Error(`tshark exited with ${ts.status}`);
  const tshark = seconds(t0);

  // the CLI, when this build has `fcgi inspect`
  let cli = null;
  const cliMain = join(ROOT, 'dist/cli/main.js');
  if (spawnSync(process.execPath, [cliMain, 'inspect', '--help'], { stdio: 'ignore' }).status === 0) {
    t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [cliMain, 'inspect', '--json', capture], { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 1 << 30 });
    if (r.status === 0 || r.status === 1) cli = seconds(t0); // 1: the report has an error finding
  }

  await buildPage();
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(PAGE_URL);
  // frame gaps while decoding: a requestAnimationFrame loop in the page
  await page.evaluate(() => {
    const probe = { last: performance.now(), maxGap: 0 };
    window.framesProbe = probe;
    const tick = (t) => {
      probe.maxGap = Math.max(probe.maxGap, t - probe.last);
      probe.last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  // the same clicks on the idle page first, for comparison
  const idleClicks = [];
  for (let i = 0; i < 10; i++) {
    const c0 = process.hrtime.bigint();
    await page.click('#composer [name=keepConn]');
    idleClicks.push(seconds(c0) * 1000);
  }
  const clicks = [];
  let decoding = true;
  const clicking = (async () => {
    while (decoding) {
      const c0 = process.hrtime.bigint();
      await page.click('#composer [name=keepConn]');
      clicks.push(seconds(c0) * 1000);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await loadCapture(page, capture);
  decoding = false;
  await clicking;
  const result = await page.evaluate(() => ({
    firstMs: Number(document.body.dataset.firstRowsMs),
    doneMs: Number(document.body.dataset.doneMs),
    requests: Number(document.body.dataset.requests),
    mode: document.body.dataset.mode,
    maxFrameGapMs: window.framesProbe.maxGap,
  }));
  await browser.close();

  const pageS = result.doneMs / 1000;
  const rows = [
    ['page (Chromium, ' + result.mode + ')', pageS],
    ...(cli !== null ? [['fcgi inspect --json (Node)', cli]] : []),
    [`tshark -d tcp.port==${port},fcgi`, tshark],
  ];
  console.log(`capture: ${capture}, ${MB.toFixed(1)} MB, ${result.requests.toLocaleString('en')} requests; figures from a shared, noisy machine`);
  console.log('| decoder | seconds | MB/s | requests/s | speed vs tshark |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [name, s] of rows) {
    console.log(`| ${name} | ${s.toFixed(2)} | ${(MB / s).toFixed(1)} | ${Math.round(result.requests / s).toLocaleString('en')} | ${(tshark / s).toFixed(2)}x |`);
  }
  console.log(`page: first requests shown after ${result.firstMs} ms; while decoding, ${clicks.length} clicks answered in median ${median(clicks).toFixed(0)} ms, max ${Math.max(...clicks).toFixed(0)} ms (idle page: median ${median(idleClicks).toFixed(0)} ms); longest gap between frames ${result.maxFrameGapMs.toFixed(0)} ms`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
