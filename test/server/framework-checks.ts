// What is asked of each framework's app (framework-apps.mjs) behind nginx: routes, request headers,
// JSON bodies (and a malformed one), cookies both ways, a redirect, errors (a throw, a 404), 1 MiB
// streamed each way, HEAD, concurrency. The suite runs them from src/ (frameworks.test.ts) and from the
// packed tarball in Node, Deno and Bun (test/package).

import { expect } from 'vitest';
import { createHash } from 'node:crypto';
import { streamBody, type Framework } from './framework-apps.mjs';

export interface Check {
  name: string;
  /** `url(path)`: where nginx serves `path`; the app answers under `/${framework}/`. */
  run(url: (path: string) => string, framework: Framework): Promise<void>;
}

const BODY = streamBody();
const BODY_DIGEST = `${BODY.length} ${createHash('sha256').update(BODY).digest('hex')}`;
const sha = (bytes: ArrayBuffer) => `${bytes.byteLength} ${createHash('sha256').update(new Uint8Array(bytes)).digest('hex')}`;

export const CHECKS: Check[] = [
  {
    name: 'a route with a parameter and a query answers JSON, with its own header',
    async run(url, fw) {
      const r = await fetch(url(`/${fw}/users/42?q=a%20b`));
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      expect(r.headers.get('x-framework')).toBe(fw);
      expect(await r.json()).toEqual({ framework: fw, id: '42', q: 'a b' });
    },
  },
  {
    name: 'request headers reach the app',
    async run(url, fw) {
      const r = await fetch(url(`/${fw}/headers`), { headers: { 'x-custom': 'v 1', 'user-agent': 'checks/1' } });
      expect(await r.json()).toEqual({ custom: 'v 1', agent: 'checks/1' });
    },
  },
  {
    name: 'a JSON body is parsed and answered with 201',
    async run(url, fw) {
      const r = await fetch(url(`/${fw}/json`), { method: 'POST', body: JSON.stringify({ n: 21 }), headers: { 'content-type': 'application/json' } });
      expect(r.status).toBe(201);
      expect(await r.json()).toEqual({ doubled: 42 });
    },
  },
  {
    name: 'a malformed JSON body is a 400',
    async run(url, fw) {
      const r = await fetch(url(`/${fw}/json`), { method: 'POST', body: '{"n": 2', headers: { 'content-type': 'application/json' } });
      expect(r.status).toBe(400);
      await r.arrayBuffer();
    },
  },
  {
    name: 'cookies are read, and two Set-Cookie headers come back apart',
    async run(url, fw) {
      const r = await fetch(url(`/${fw}/cookies`), { headers: { cookie: 'other=x; session=s1' } });
      expect(await r.json()).toEqual({ session: 's1' });
      const set = r.headers.getSetCookie();
      expect(set).toHaveLength(2);
      expect(set[0]).toMatch(/^a=1;/);
      expect(set[0]).not.toMatch(/httponly/i);
      expect(set[1]).toMatch(/^b=2;.*httponly/i);
    },
  },
  {
    name: 'a redirect is a 302 with its Location',
    async run(url, fw) {
      const r = await fetch(url(`/${fw}/redirect`), { redirect: 'manual' });
      expect(r.status).toBe(302);
      expect(r.headers.get('location')).toBe(`/${fw}/users/7`);
      await r.arrayBuffer();
    },
  },
  {
    name: 'a thrown error is a 500 from the error handler, and the app serves on',
    async run(url, fw) {
      const r = await fetch(url(`/${fw}/boom`));
      expect(r.status).toBe(500);
      expect(await r.json()).toEqual({ error: 'boom' });
      expect((await fetch(url(`/${fw}/users/1`))).status).toBe(200);
    },
  },
  {
    name: 'an unknown route is a 404',
    async run(url, fw) {
      const r = await fetch(url(`/${fw}/nowhere`));
      expect(r.status).toBe(404);
      await r.arrayBuffer();
    },
  },
  {
    name: 'a 1 MiB response streams through whole',
    async run(url, fw) {
      const r = await fetch(url(`/${fw}/stream`));
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^application\/octet-stream/);
      expect(sha(await r.arrayBuffer())).toBe(BODY_DIGEST);
    },
  },
  {
    name: 'a 1 MiB request body streams to the app whole',
    async run(url, fw) {
      const r = await fetch(url(`/${fw}/upload`), { method: 'POST', body: BODY, headers: { 'content-type': 'application/octet-stream' } });
      expect(r.status).toBe(200);
      expect(await r.text()).toBe(BODY_DIGEST);
    },
  },
  {
    name: 'HEAD answers the headers of GET and no body',
    async run(url, fw) {
      const r = await fetch(url(`/${fw}/users/42`), { method: 'HEAD' });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await r.arrayBuffer()).byteLength).toBe(0);
    },
  },
  {
    name: '50 concurrent requests each get their own answer',
    async run(url, fw) {
      const bodies = await Promise.all(Array.from({ length: 50 }, (_, i) => fetch(url(`/${fw}/users/${i}?q=${i}`)).then((r) => r.json())));
      bodies.forEach((b, i) => expect(b).toEqual({ framework: fw, id: String(i), q: String(i) }));
    },
  },
];

/** nginx's server block and upstreams for apps on these ports: keep-alive on, as a site would run them. */
export function nginxConfig(ports: Record<string, number>): { locations: string; upstreams: string } {
  const entries = Object.entries(ports);
  return {
    upstreams: entries.map(([name, port]) => `upstream ${name.replace(/\W/g, '_')} { server 127.0.0.1:${port}; keepalive 8; }`).join('\n'),
    locations: entries.map(([name]) => `location /${name}/ { fastcgi_pass ${name.replace(/\W/g, '_')}; fastcgi_keep_conn on; }`).join('\n'),
  };
}
