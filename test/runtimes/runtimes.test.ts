// The built package in every runtime: the smoke script under Node, Deno and Bun (their npm packages),
// and in headless Chromium (Debian's, driven by playwright-core) from a page on a 127.0.0.1 server.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SMOKE = join(ROOT, 'test/runtimes/smoke.mjs');
const run = promisify(execFile);
const expected = { ok: true, records: 6, streamed: 3, error: 'BAD_VERSION' };

async function smokeWith(cmd: string, args: string[]): Promise<unknown> {
  const { stdout } = await run(cmd, [...args, SMOKE], { cwd: ROOT, timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('the built package in every runtime', () => {
  it('Node', async () => {
    expect(await smokeWith(process.execPath, [])).toEqual(expected);
  });
  it('Deno', async () => {
    expect(await smokeWith(join(ROOT, 'node_modules/.bin/deno'), ['run', '--allow-read', '--allow-env'])).toEqual(expected);
  });
  it('Bun', async () => {
    expect(await smokeWith(join(ROOT, 'node_modules/.bin/bun'), [])).toEqual(expected);
  });

  describe('headless Chromium', () => {
    let server: Server;
    let browser: Browser;
    let base: string;
    const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json' };
    beforeAll(async () => {
      server = createServer(async (req, res) => {
        const path = normalize(decodeURIComponent(new URL(req.url!, 'http://x').pathname)).replace(/^\/+/, '');
        const file = path === '' ? join(ROOT, 'test/runtimes/page.html') : join(ROOT, path);
        if (!file.startsWith(ROOT) || !existsSync(file)) return void res.writeHead(404).end();
        res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
        res.end(await readFile(file));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      base = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    });
    afterAll(async () => {
      await browser?.close();
      await new Promise((r) => server?.close(r));
    });

    it('runs the codec and the streams in a page', async () => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(base);
      await page.waitForFunction(() => (window as unknown as { smokeResult?: unknown }).smokeResult !== undefined, undefined, { timeout: 30_000 });
      expect(await page.evaluate(() => (window as unknown as { smokeResult: unknown }).smokeResult)).toEqual(expected);
      expect(errors).toEqual([]);
    });
  });
});
