// For the browser tests: headless Chromium (test/chromium.mjs) and a static file server on 127.0.0.1.

import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import type { Page } from 'playwright-core';

export { CHROMIUM_ARGS, launchChromium } from './chromium.mjs';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.wasm': 'application/wasm',
};

export interface StaticServer {
  /** http://127.0.0.1:PORT */
  base: string;
  close(): Promise<void>;
}

/** Serves the files under `root` whose relative paths match one of `allow`, with no caching; 404 otherwise. */
export async function serveStatic(root: string, allow: RegExp[]): Promise<StaticServer> {
  const server: Server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)).slice(1);
    const body = allow.some((re) => re.test(path)) ? await readFile(join(root, path)).catch(() => null) : null;
    if (body === null) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' }).end(body);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Collects what should never happen on a page: uncaught errors, console errors, failed responses. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
  return problems;
}
