// The unit suite under Deno or Bun (`npm run test:deno`, `npm run test:bun`): the Node suite's config,
// its own JSON report, and an explicit list of what does not run there. FCGI_TEST_RUNTIME says which
// runtime was asked for; test/runtimes/which-runtime.test.ts fails when another one runs the tests.

import { configDefaults, defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

const runtime = process.env.FCGI_TEST_RUNTIME;
if (runtime !== 'deno' && runtime !== 'bun') throw new Error(`FCGI_TEST_RUNTIME must be deno or bun, not ${runtime}`);

// Tests that drive OTHER runtimes from the Node suite; inside Deno or Bun they would test nothing new.
const NOT_IN_DENO_OR_BUN = [
  // starts Node, Deno, Bun and Chromium itself (its "runs in Node" case would run the current runtime)
  'test/runtimes/runtimes.test.ts',
  // starts Deno and Bun children in front of nginx and against php-fpm
  'test/runtimes/interop.test.ts',
  // drive the page in Chromium: the browser is the runtime under test there
  'test/web/**',
];

// Tests of code that genuinely needs Node. src/manager opens the shared listening socket in a helper
// process and receives its raw handle over child_process IPC (send(message, handle)); Bun refuses to
// send such a handle ("This handle type cannot be sent") and Deno does not implement it either, so the
// process manager (and `fcgi proxy --spawn`, `fcgi spawn`) runs under Node only for now.
const NODE_ONLY = ['test/manager/**'];

// `fcgi proxy --workers` rests on node:cluster, whose primary hands each accepted connection to a worker
// over IPC. Under Deno one such connection was lost now and then after a worker was replaced (a request
// of 20 timed out in each of three full CI runs, never in that file alone); Bun runs it.
const NOT_IN_DENO = runtime === 'deno' ? ['test/cli/proxy-workers.test.ts'] : [];

export default mergeConfig(
  base,
  defineConfig({
    test: {
      exclude: [...configDefaults.exclude, ...NOT_IN_DENO_OR_BUN, ...NODE_ONLY, ...NOT_IN_DENO],
      outputFile: { json: `build/test-results-${runtime}.json` },
    },
  }),
);
