// A small flag parser for the fcgi command: --name value, --name=value, repeated flags, booleans
// (--name, and --no-name to turn one off), short aliases (-c 16 for --connections 16), and numbers
// and durations read with a message that names the flag.

export interface Parsed {
  positional: string[];
  flags: Map<string, string[]>;
}

export interface ParseOptions {
  /** Flags that take no value. */
  booleans?: string[];
  /** Short flags: { c: 'connections' } reads `-c 16` as `--connections 16`. */
  aliases?: Record<string, string>;
  /** Every flag the command knows: anything else is a UsageError (a typo is not silently ignored). */
  known?: string[];
}

export function parseArgs(argv: string[], options: string[] | ParseOptions = []): Parsed {
  const { booleans = [], aliases = {}, known } = Array.isArray(options) ? { booleans: options } : options;
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  const add = (k: string, v: string) => {
    if (known && !known.includes(k) && !booleans.includes(k)) throw new UsageError(`unknown option --${k}`);
    flags.set(k, [...(flags.get(k) ?? []), v]);
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (/^-[A-Za-z]$/.test(a)) {
      const long = aliases[a.slice(1)];
      if (!long) throw new UsageError(`unknown option ${a}`);
      a = `--${long}`;
    }
    if (!a.startsWith('--') || a === '-') {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (eq > 0) add(name, a.slice(eq + 1));
    else if (booleans.includes(name)) add(name, 'true');
    else if (name.startsWith('no-') && booleans.includes(name.slice(3))) add(name.slice(3), 'false');
    else {
      const v = argv[i + 1];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      add(name, v);
      i++;
    }
  }
  return { positional, flags };
}

export class UsageError extends Error {}

export const one = (p: Parsed, name: string): string | undefined => p.flags.get(name)?.at(-1);
export const all = (p: Parsed, name: string): string[] => p.flags.get(name) ?? [];
/** A boolean flag: true, false (--no-name), or `fallback` when absent. */
export const flag = (p: Parsed, name: string, fallback = false): boolean => (one(p, name) ?? String(fallback)) === 'true';

/** A whole number flag (>= min), or `fallback` when absent. */
export function count(p: Parsed, name: string, fallback: number, min = 0): number {
  const raw = one(p, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new UsageError(`--${name} takes a whole number >= ${min}, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** A duration flag in ms: 1500ms, 10s, 2m; a bare number counts in `bareUnit` (ms by default). */
export function duration(p: Parsed, name: string, fallback: number, bareUnit: 'ms' | 's' = 'ms'): number {
  const raw = one(p, name);
  if (raw === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw);
  if (!m) throw new UsageError(`--${name} takes a duration (500, 500ms, 10s, 2m), got ${JSON.stringify(raw)}`);
  const unit = m[2] ?? bareUnit;
  return Math.round(Number(m[1]) * (unit === 's' ? 1000 : unit === 'm' ? 60_000 : 1));
}

/** A size flag in bytes: 512, 64k, 8m, 2g (powers of 1024, as nginx reads sizes), or `fallback` when absent. */
export function size(p: Parsed, name: string, fallback: number): number {
  const raw = one(p, name);
  if (raw === undefined) return fallback;
  const m = /^(\d+)([kmg])?$/i.exec(raw);
  if (!m) throw new UsageError(`--${name} takes a size (512, 64k, 8m, 2g), got ${JSON.stringify(raw)}`);
  return Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] ?? ' ').toLowerCase());
}

/** --param K=V flags as pairs (a value may contain '='). */
export function pairsOf(p: Parsed, name: string): [string, string][] {
  return all(p, name).map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${name} takes NAME=VALUE, got ${JSON.stringify(kv)}`);
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  });
}
