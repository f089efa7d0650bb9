// The children's environment, as mod_fastcgi's -initial-env: cleared by default; `NAME` passes the
// manager's own variable through, `NAME=` sets it empty, `NAME=value` sets it.

export class InitialEnvError extends Error {
  readonly code = 'ERR_FCGI_INITIAL_ENV';
}

export function initialEnv(rules: readonly string[], from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const rule of rules) {
    const eq = rule.indexOf('=');
    const name = eq < 0 ? rule : rule.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new InitialEnvError(`an environment rule takes NAME, NAME= or NAME=value; got ${JSON.stringify(rule)}`);
    if (eq >= 0) env[name] = rule.slice(eq + 1);
    else if (from[name] !== undefined) env[name] = from[name]!;
  }
  return env;
}
