// A small flag parser for the fcgi command: --name value, --name=value, repeated flags, booleans.

export interface Parsed {
  positional: string[];
  flags: Map<string, string[]>;
}

export function parseArgs(argv: string[], booleans: string[] = []): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  const add = (k: string, v: string) => flags.set(k, [...(flags.get(k) ?? []), v]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '-') {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) add(a.slice(2, eq), a.slice(eq + 1));
    else if (booleans.includes(a.slice(2))) add(a.slice(2), 'true');
    else {
      const v = argv[i + 1];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      add(a.slice(2), v);
      i++;
    }
  }
  return { positional, flags };
}

export class UsageError extends Error {}

export const one = (p: Parsed, name: string): string | undefined => p.flags.get(name)?.at(-1);
export const all = (p: Parsed, name: string): string[] => p.flags.get(name) ?? [];
