// Proves which runtime runs the suite. `npm run test:deno` and `npm run test:bun` set FCGI_TEST_RUNTIME;
// the plain Node suite leaves it unset. A run that silently falls back to Node (e.g. `bun x vitest`,
// which follows vitest's `#!/usr/bin/env node` line) fails here instead of passing for the wrong runtime.

import { describe, expect, it } from 'vitest';
import { currentRuntime } from './runtime.js';

describe('the test runtime', () => {
  it('is the one the run asked for', () => {
    const expected = process.env.FCGI_TEST_RUNTIME ?? 'node';
    expect(currentRuntime()).toBe(expected);
    // the runtime's own version entry too: Deno and Bun also report a Node version in process.versions
    const own = Object.keys(process.versions).filter((k) => k === 'deno' || k === 'bun');
    expect(own).toEqual(expected === 'node' ? [] : [expected]);
  });
});
