// What runSmoke() (smoke.mjs) returns in every runtime and from every build of the package.
import { expect } from 'vitest';

export const SMOKE_RESULT = {
  records: 6,
  streamed: 6,
  pieces: expect.any(Number), // how the stream was cut depends on the framing
  stdinBytes: 100_000,
  error: { code: 'BAD_VERSION', offset: 16 },
  streamError: { code: 'BAD_VERSION', offset: 16 },
};
