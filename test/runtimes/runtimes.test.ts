// The BUILT package (dist/) in every runtime: smoke.mjs as a script (smoke-dist.mjs) under Node, Deno
// and Bun (their npm packages), and imported by a page in headless Chromium (Debian's, driven by
// playwright-core) served from 127.0.0.1. Run `npm run build` first. The same from the packed
// tarball, as a user installs it: test/package.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { launchChromium, serveStatic, watchProblems, type StaticServer } from '../browser.js';
import { SMOKE_RESULT } from './smoke-result.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SMOKE = join(ROOT, 'test/runtimes/smoke-dist.mjs');
const BIN = join(ROOT, 'node_modules/.bin');

/** Runs the smoke script; execFile rejects (with stderr in the message) unless it exits 0 in time. */
async function smoke(cmd: string, args: string[]): Promise<unknown> {
  const { stdout } = await promisify(execFile)(cmd, [...args, SMOKE], {
    cwd: ROOT,
    timeout: 30_000,
    // no colours, no update checks or telemetry: the runtimes must not reach the network
    env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DO_NOT_TRACK: '1' },
  });
  const lines = stdout.trim().split('\n');
  expect(lines, 'one JSON line on stdout').toHaveLength(1);
  return JSON.parse(lines[0]!);
}

describe.concurrent('the built package as a script', () => {
  it('runs in Node', async () => {
    expect(await smoke(process.execPath, [])).toEqual(SMOKE_RESULT);
  }, 40_000);
  // no permission flags: the codec needs no file, env or network access
  it('runs in Deno', async () => {
    expect(await smoke(join(BIN, 'deno'), ['run'])).toEqual(SMOKE_RESULT);
  }, 40_000);
  it('runs in Bun', async () => {
    expect(await smoke(join(BIN, 'bun'), [])).toEqual(SMOKE_RESULT);
  }, 40_000);
});

describe('the built package in headless Chromium', () => {
  // only the page, the smoke module and dist/ are served, at their repository paths
  const SERVED = [/^test\/runtimes\/(page\.html|smoke\.mjs)$/, /^dist\/[\w/.-]+\.js$/];
  let server: StaticServer | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    server = await serveStatic(ROOT, SERVED);
    browser = await launchChromium();
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs the codec and the streams in a page', async () => {
    const page = await browser!.newPage();
    const problems = watchProblems(page);
    await page.goto(`${server!.base}/test/runtimes/page.html`);
    const handle = await page.waitForFunction(() => (window as { smokeResult?: unknown }).smokeResult, undefined, { timeout: 20_000 });
    expect(await handle.jsonValue()).toEqual({ result: SMOKE_RESULT });
    expect(problems).toEqual([]);
    await page.close();
  }, 40_000);
});
