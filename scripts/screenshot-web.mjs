// Regenerates docs/inspector.png: the built inspector page with a capture of real loopback traffic loaded
// (nginx -> bench/app/hello-app.mjs, recorded by bench/web/make-capture.sh) and one request opened.
// usage: node scripts/screenshot-web.mjs [CAPTURE]   (after npm run build; makes a capture when none is given)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../test/chromium.mjs';
import { ROOT, PAGE_URL, buildPage, loadCapture } from '../bench/web/page.mjs';

const scratch = mkdtempSync(join(tmpdir(), 'fcgi-web-shot-'));
try {
  let capture = process.argv[2];
  if (!capture) {
    capture = join(scratch, 'nginx-to-app.pcap');
    execFileSync('bash', [join(ROOT, 'bench/web/make-capture.sh'), capture], {
      env: { ...process.env, TARGET_MB: '0.2', LIMIT: '2', BIG: '3', CONNECTIONS: '4' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  await buildPage();
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(PAGE_URL);
  await loadCapture(page, capture);
  // the request with a finding (the pair split across PARAMS records), its records marked
  await page.click('#requests [role=option].finding');
  await page.waitForSelector('#detail-body table.records');
  await page.screenshot({ path: join(ROOT, 'docs/inspector.png'), fullPage: true });
  await browser.close();
  console.log('wrote docs/inspector.png');
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
