// smoke.mjs on the built package root (dist/index.js), as a script: `node|deno run|bun smoke-dist.mjs`
// prints runSmoke's result as one JSON line. A failure rejects the top-level await, which exits nonzero
// in every runtime.
import { runSmoke } from './smoke.mjs';

console.log(JSON.stringify(await runSmoke(await import('../../dist/index.js'))));
