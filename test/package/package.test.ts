// The package as a user gets it. `npm pack` once; the tarball installed, offline and alone, into a
// fresh consumer project (build/consumer-*, whose other imports, the frameworks, TypeScript and Vite,
// come from this repository's node_modules as they would from the user's), then used from there only:
// what the tarball holds (LICENSE, README and docs whose links resolve inside it, no source map that
// points at unshipped files), `npm publish --dry-run`, every entry point and the `fcgi` bin in Node,
// Deno and Bun, the types under a strict nodenext project (Fastify's serverFactory included), the four
// frameworks behind nginx in each runtime, and a page bundled by Vite with no configuration in
// Chromium. Run `npm run build` first (npm test does).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { launchChromium, serveStatic, watchProblems } from '../browser.js';
import { startNginx } from '../peers/nginx.js';
import { freePort, waitForPort } from '../peers/ports.js';
import { CHECKS, nginxConfig } from '../server/framework-checks.js';
import { FRAMEWORKS } from '../server/framework-apps.mjs';
import { SMOKE_RESULT } from '../runtimes/smoke-result.js';
import * as sourceRoot from '../../src/index.js';
import * as sourceCodec from '../../src/codec/index.js';
import * as sourceStreams from '../../src/streams/index.js';
import * as sourceInspect from '../../src/inspect/index.js';
import * as sourceManager from '../../src/manager/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'node_modules/.bin');
// no colours, no update checks or telemetry: the runtimes must not reach the network
const ENV = { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DO_NOT_TRACK: '1' };
const run = promisify(execFile);

// How each runtime runs a consumer's script. Deno gets what the README tells Deno users (sockets on
// loopback and the environment); importing the entry points needs nothing.
const RUNTIMES = {
  node: { run: [process.execPath], serve: [process.execPath] },
  deno: { run: [join(BIN, 'deno'), 'run'], serve: [join(BIN, 'deno'), 'run', '--allow-net=127.0.0.1', '--allow-env'] },
  bun: { run: [join(BIN, 'bun')], serve: [join(BIN, 'bun')] },
} as const;
type Runtime = keyof typeof RUNTIMES;
const RUNTIME_NAMES = Object.keys(RUNTIMES) as Runtime[];

// what each entry point of the package must export: what its source module does
const names = (entry: object) => Object.keys(entry).sort();
const SOURCE_EXPORTS = {
  '.': names(sourceRoot),
  './codec': names(sourceCodec),
  './streams': names(sourceStreams),
  './inspect': names(sourceInspect),
  './manager': names(sourceManager),
};

let project = ''; // the consumer project
let installed = ''; // node_modules/fcgi-wasm in it
let packed: { filename: string; files: { path: string }[] };
const children: ChildProcess[] = [];

beforeAll(async () => {
  project = mkdtempSync(join(ROOT, 'build/consumer-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', project], { cwd: ROOT, env: ENV });
  packed = JSON.parse(stdout)[0];
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { 'fcgi-wasm': `file:${packed.filename}` } }),
  );
  // --offline: the tarball is all it takes (the package has no dependencies)
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: project, env: ENV });
  installed = join(project, 'node_modules/fcgi-wasm');
  cpSync(join(ROOT, 'test/package/consumer'), project, { recursive: true });
  for (const helper of ['test/runtimes/smoke.mjs', 'test/server/framework-apps.mjs']) cpSync(join(ROOT, helper), join(project, posix.basename(helper)));
}, 60_000);

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
  if (project) rmSync(project, { recursive: true, force: true });
});

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

describe('the tarball', () => {
  it('holds LICENSE (MIT, as package.json says), README, docs, examples and dist, and nothing else', () => {
    const paths = packed.files.map((f) => f.path);
    const tops = new Set(paths.map((p) => p.split('/')[0]));
    expect([...tops].sort()).toEqual(['LICENSE', 'README.md', 'dist', 'docs', 'examples', 'package.json']);
    expect(paths).toEqual(expect.arrayContaining(['docs/faq.md', 'docs/process-manager.md', 'examples/hello.mjs', 'dist/index.js', 'dist/cli/main.js']));
    const license = readFileSync(join(installed, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} the fcgi-wasm authors\n/);
    expect(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).license).toBe('MIT');
  });

  it('ships no source map, and no script points at one', () => {
    const files = filesUnder(installed);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    const pointing = files.filter((f) => /\.[cm]?js$/.test(f) && readFileSync(join(installed, f), 'utf8').includes('sourceMappingURL'));
    expect(pointing).toEqual([]);
  });

  it('has every relative link and image of its README and docs resolve to a file inside it', () => {
    const markdown = filesUnder(installed).filter((f) => f.endsWith('.md'));
    expect(markdown).toEqual(expect.arrayContaining(['README.md', 'docs/faq.md', 'docs/process-manager.md']));
    const broken: string[] = [];
    let links = 0;
    for (const file of markdown) {
      const text = readFileSync(join(installed, file), 'utf8');
      for (const [, target] of text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!) || target!.startsWith('#')) continue; // absolute URLs, anchors
        links++;
        if (!existsSync(join(installed, dirname(file), target!.split('#')[0]!))) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
    expect(links).toBeGreaterThan(5);
  });

  it('passes `npm publish --dry-run` with nothing to correct', async () => {
    const { stderr } = await run('npm', ['publish', '--dry-run', '--offline'], { cwd: ROOT, env: ENV });
    // the one warning left is that no one is logged in to the registry here
    const warnings = stderr.split('\n').filter((l) => /^npm warn/.test(l) && !/requires you to be logged in/.test(l));
    expect(warnings).toEqual([]);
  });
});

describe.each(RUNTIME_NAMES)('the installed package in %s', (runtime) => {
  it('imports every entry point, each exporting what the source does, and runs the codec', async () => {
    const { stdout } = await run(RUNTIMES[runtime].run[0]!, [...RUNTIMES[runtime].run.slice(1), 'entries.mjs'], { cwd: project, env: ENV, timeout: 30_000 });
    const out = JSON.parse(stdout);
    expect(out.resolved).toBe(pathToFileURL(join(installed, 'dist/index.js')).href);
    expect(out.exports).toEqual(SOURCE_EXPORTS);
    expect(out.smoke).toEqual(SMOKE_RESULT);
    expect(out.inspected).toEqual([['SCRIPT_FILENAME', '/srv/www/index.php']]);
  }, 40_000);

  it('runs the fcgi bin against a shipped example app', async () => {
    const port = await freePort();
    const app = spawn(process.execPath, [join(installed, 'examples/hello.mjs'), `127.0.0.1:${port}`], { cwd: project, env: ENV, stdio: 'ignore' });
    children.push(app);
    await waitForPort(port, app, 'examples/hello.mjs');
    const [cmd, ...args] = RUNTIMES[runtime].serve;
    const { stdout } = await run(cmd!, [...args, join(project, 'node_modules/.bin/fcgi'), 'request', '--connect', `127.0.0.1:${port}`, `/from-${runtime}`], { cwd: project, env: ENV, timeout: 30_000 });
    expect(stdout).toMatch(new RegExp(`\\r?\\n\\r?\\nhello from /from-${runtime}\\n$`));
    process.kill(app.pid!, 'SIGKILL');
  }, 40_000);

  it('serves Express, Koa, Fastify and Hono apps behind nginx, every check passing', async () => {
    const [cmd, ...args] = RUNTIMES[runtime].serve;
    const child = spawn(cmd!, [...args, 'frameworks.mjs'], { cwd: project, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    for (let i = 0; i < 400 && !out.includes('\n') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
    const ports = (() => {
      try {
        return JSON.parse(out.split('\n')[0]!) as Record<string, number>;
      } catch {
        throw new Error(`frameworks.mjs in ${runtime} printed no ports: ${out}${err}`);
      }
    })();
    expect(Object.keys(ports)).toEqual(FRAMEWORKS);
    const { locations, upstreams } = nginxConfig(ports);
    const nginx = await startNginx(locations, upstreams);
    try {
      for (const fw of FRAMEWORKS) {
        for (const check of CHECKS) {
          await check.run((path) => nginx.url(path), fw).catch((e: Error) => {
            throw new Error(`${runtime}, ${fw}: ${check.name}: ${e.message}\n${err}`);
          });
        }
      }
    } finally {
      await nginx.stop();
      process.kill(child.pid!, 'SIGKILL');
    }
  }, 60_000);
});

describe('the installed package with TypeScript and Vite', () => {
  it('type-checks under module nodenext, strict, no DOM lib, skipLibCheck off, Fastify serverFactory included', async () => {
    const result = await run(join(BIN, 'tsc'), ['-p', join(project, 'tsconfig.json')], { cwd: project, env: ENV }).catch((e: { stdout: string }) => e);
    expect(result.stdout).toBe('');
  }, 60_000);

  describe('a page bundled by Vite with no configuration', () => {
    let browser: Browser | undefined;
    afterAll(() => browser?.close());

    it('decodes and encodes records in Chromium', async () => {
      await run(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: project, env: ENV, timeout: 60_000 });
      const built = filesUnder(join(project, 'dist'));
      expect(built.filter((f) => f.endsWith('.wasm'))).toEqual([]); // the codec travels inside the script
      const server = await serveStatic(join(project, 'dist'), [/^(index\.html|assets\/[\w.-]+\.js)$/]);
      try {
        browser = await launchChromium();
        const page = await browser.newPage();
        const problems = watchProblems(page);
        await page.goto(`${server.base}/index.html`);
        const handle = await page.waitForFunction(() => (window as { smokeResult?: unknown }).smokeResult, undefined, { timeout: 20_000 });
        expect(await handle.jsonValue()).toEqual({ result: SMOKE_RESULT });
        expect(problems).toEqual([]);
      } finally {
        await server.close();
      }
    }, 90_000);
  });
});
