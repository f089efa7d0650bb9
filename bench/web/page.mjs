// Driving the built inspector page from scripts (bench/web/run.mjs, scripts/screenshot-web.mjs): build it,
// open it from file:// in headless Chromium, load a capture through its file input.
import { build } from 'vite';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PAGE_URL = pathToFileURL(join(ROOT, 'build/web/index.html')).href;

export async function buildPage() {
  await build({ configFile: join(ROOT, 'web/vite.config.ts'), logLevel: 'error' });
}

/** Picks `path` in the page's file input; resolves when the decoding ended (throws on a decoding error). */
export async function loadCapture(page, path, timeout = 300_000) {
  await page.setInputFiles('#file', path);
  await page.waitForSelector('body[data-state=done], body[data-state=error]', { state: 'attached', timeout });
  if ((await page.getAttribute('body', 'data-state')) !== 'done') throw new Error(`the page could not decode ${path}: ${await page.textContent('#status')}`);
}
