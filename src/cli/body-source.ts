// A request body named on the command line, curl style: @FILE reads a file, - reads standard input,
// anything else is the text itself.

import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';

export function bodyFrom(spec: string, flagName: string): Uint8Array {
  try {
    if (spec === '-') return readFileSync(0);
    if (spec.startsWith('@')) return readFileSync(spec.slice(1));
  } catch (e) {
    throw new UsageError(`${flagName} ${spec}: ${(e as Error).message}`);
  }
  return new TextEncoder().encode(spec);
}
