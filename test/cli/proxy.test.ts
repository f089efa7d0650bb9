// `fcgi proxy` as a user runs it: the README's first command (the example app behind the gateway),
// and in front of php-fpm with a document root.

import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createHash } from 'node:crypto';
import { cli, running, startProxy } from './start-proxy.js';
import { startPhpFpm } from '../peers/php-fpm.js';
import { currentRuntime } from '../runtimes/runtime.js';

const DOCROOT = fileURLToPath(new URL('../fixtures/php', import.meta.url));
describe('fcgi proxy', () => {
  it('with no backend, serves the example FastCGI app through the gateway', async () => {
    const { base, child } = await startProxy([]);
    const page = await fetch(`${base}/some/path?x=1`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Hello from a FastCGI app');
    expect(html).toContain('<td>REQUEST_URI</td><td>/some/path?x=1</td>');
    const post = await fetch(`${base}/`, { method: 'POST', body: 'say=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(await post.text()).toContain('6 characters');
    const exited = new Promise((r) => child.once('exit', r));
    // by pid: Deno's ChildProcess.kill() reports the signal as the cause of exit even when the child exits 0
    process.kill(child.pid!, 'SIGTERM');
    expect(await exited).toBe(0);
  });

  it('serves a PHP document root through php-fpm', async () => {
    const php = await startPhpFpm({ children: 2 });
    try {
      const { base } = await startProxy(['--backend', php.address, '--root', DOCROOT]);
      expect(await (await fetch(`${base}/static.txt`)).text()).toBe('plain text file\n');
      expect(await (await fetch(`${base}/index.php?a=1`)).json()).toMatchObject({ query: { a: '1' } });
    } finally {
      running.splice(0).forEach((c) => c.kill('SIGKILL'));
      await php.stop();
    }
  });

  it('streams a 1 GiB upload to php-fpm (--no-request-buffering) with the gateway under 100 MB of RSS', async () => {
    // PHP reads php://input as it comes only without its own POST parsing (which would buffer the body)
    const php = await startPhpFpm({ children: 1, ini: { enable_post_data_reading: '0' } });
    try {
      const { base, child } = await startProxy(['--backend', php.address, '--root', DOCROOT, '--no-request-buffering', '--max-body-size', '2g']);
      const chunk = Buffer.alloc(1 << 20);
      for (let i = 0; i < chunk.length; i += 997) chunk[i] = i & 255;
      const total = 1024;
      const expected = createHash('md5');
      // node:http with a Content-Length: the gateway streams such a body (a chunked one is buffered)
      const answer = await new Promise<string>((resolve, reject) => {
        const req = httpRequest(`${base}/hash.php`, { method: 'POST', headers: { 'content-length': total << 20, 'content-type': 'application/octet-stream' } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text)).on('error', reject);
        });
        req.on('error', reject);
        let sent = 0;
        const more = (): void => {
          while (sent < total) {
            sent++;
            expected.update(chunk);
            if (!req.write(chunk)) return void req.once('drain', more);
          }
          req.end();
        };
        more();
      });
      expect(answer).toBe(`${total << 20} ${expected.digest('hex')}`);
      const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;
      console.log(`1 GiB upload: gateway peak RSS ${(peak / 2 ** 20).toFixed(1)} MiB`);
      // The bar (100 MB) is Node's. Bun's and Deno's collectors free network buffers later: there the
      // bound only proves the body streams (a buffered 1 GiB body would be over 1 GB).
      expect(peak).toBeLessThan((currentRuntime() === 'node' ? 100 : 160) << 20);
    } finally {
      running.splice(0).forEach((c) => c.kill('SIGKILL'));
      await php.stop();
    }
  }, 120_000);

  it('explains a bad flag', async () => {
    const r = spawn(process.execPath, [cli, 'proxy', '--listen', 'nope']);
    let err = '';
    r.stderr.on('data', (d) => (err += d));
    expect(await new Promise((res) => r.once('exit', res))).toBe(2);
    expect(err).toContain('--listen takes [HOST:]PORT');
  });
});
