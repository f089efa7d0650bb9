// FastCGI apps on other libraries as peers: a Perl FCGI script (Debian libfcgi-perl) and Go's
// net/http/fcgi (Debian golang-go; compiled once per test process into a temp dir). Each listens on a
// free 127.0.0.1 port and is stopped by its pid.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAppProcess, type AppProcess } from './app-process.js';

export type { AppProcess };

const PERL_APP = fileURLToPath(new URL('../fixtures/manager/app.pl', import.meta.url));
const GO_SOURCE = fileURLToPath(new URL('../fixtures/go/app.go', import.meta.url));

/** test/fixtures/manager/app.pl on FCGI.pm, listening on its own socket. */
export function startPerlApp(): Promise<AppProcess> {
  return startAppProcess('the Perl FCGI app', 'perl', [PERL_APP]);
}

let goBinary: string | undefined;

/** test/fixtures/go/app.go, built without a module (GOPATH mode: it imports the standard library only). */
export function goAppBinary(): string {
  if (!goBinary) {
    const dir = mkdtempSync(join(tmpdir(), 'fcgi-wasm-goapp-'));
    goBinary = join(dir, 'go-app');
    execFileSync('go', ['build', '-o', goBinary, GO_SOURCE], { stdio: 'pipe', env: { ...process.env, GO111MODULE: 'off', GOCACHE: join(dir, 'cache'), GOPATH: join(dir, 'gopath') } });
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return goBinary;
}

export function startGoApp(): Promise<AppProcess> {
  return startAppProcess('the Go net/http/fcgi app', goAppBinary(), []);
}
