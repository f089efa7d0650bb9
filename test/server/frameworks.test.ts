// Express 5, Koa 3, Fastify 5 and Hono 4 apps, unchanged, behind real nginx: every check of
// framework-checks.ts against each (the same run from the packed tarball: test/package).

import { afterAll, beforeAll, describe, it } from 'vitest';
import * as fcgi from '../../src/server/index.js';
import { FRAMEWORKS, startApps, type RunningApp, type Framework } from './framework-apps.mjs';
import { CHECKS, nginxConfig } from './framework-checks.js';
import { startNginx, type Nginx } from '../peers/nginx.js';

let apps: Record<Framework, RunningApp> | undefined;
let nginx: Nginx | undefined;

beforeAll(async () => {
  apps = await startApps(fcgi);
  const { locations, upstreams } = nginxConfig(Object.fromEntries(FRAMEWORKS.map((fw) => [fw, apps![fw].port])));
  nginx = await startNginx(locations, upstreams);
});

afterAll(async () => {
  await nginx?.stop();
  await Promise.all(Object.values(apps ?? {}).map((a) => a.close()));
});

for (const fw of FRAMEWORKS) {
  describe(`${fw} behind nginx`, () => {
    for (const check of CHECKS) it(check.name, () => check.run((path) => nginx!.url(path), fw));
  });
}
