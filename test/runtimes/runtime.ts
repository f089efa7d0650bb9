// Which runtime runs this code, and how it runs a script: the Deno and Bun suites run the same tests as
// Node, so a test that starts a script in "this runtime" must not assume Node's command line.

export type Runtime = 'node' | 'deno' | 'bun';

export function currentRuntime(): Runtime | 'unknown' {
  const g = globalThis as { Deno?: { version?: { deno?: string } }; Bun?: { version?: string } };
  if (typeof g.Deno?.version?.deno === 'string') return 'deno';
  if (typeof g.Bun?.version === 'string') return 'bun';
  if (typeof process === 'object' && typeof process.versions?.node === 'string') return 'node';
  return 'unknown';
}

/** The argv that runs `script` in the current runtime (Deno needs `run` and permissions). */
export function scriptArgv(script: string): string[] {
  return currentRuntime() === 'deno' ? [process.execPath, 'run', '-A', script] : [process.execPath, script];
}
