// The same small app in four web frameworks, served by fcgi-wasm as their users would serve them:
// Express 5, Koa 3 and Fastify 5 (its serverFactory) through createServer (node:http style), Hono 4
// through serve (fetch style). `fcgi` is the package's exports: src/ for the suite
// (frameworks.test.ts), the installed tarball for test/package (the consumer's view, in Node, Deno and
// Bun). Each app answers under /<framework>/; framework-checks.ts is what is asked of them.
// Plain JavaScript, so that Node runs it from a consumer project without a TypeScript step.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import express from 'express';
import Koa from 'koa';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';

export const FRAMEWORKS = ['express', 'koa', 'fastify', 'hono'];

const CHUNK = 64 * 1024;
const CHUNKS = 16;
/** The 1 MiB a /stream route sends and an /upload check posts: byte i is (i * 31 + (i >> 12)) & 255. */
export function streamBody() {
  const body = new Uint8Array(CHUNK * CHUNKS);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 12)) & 255;
  return body;
}
/** The body in 64 KiB chunks, each a fresh buffer: the app streams it, it is never one write. */
function* bodyChunks() {
  const body = streamBody();
  for (let at = 0; at < body.length; at += CHUNK) yield Buffer.from(body.subarray(at, at + CHUNK));
}
const webStream = () => {
  const chunks = bodyChunks();
  return new ReadableStream({
    pull(controller) {
      const next = chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(new Uint8Array(next.value));
    },
  });
};

/** `${bytes} ${sha256 hex}` of what an async iterable of chunks (a request stream) carries. */
async function digest(chunks) {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of chunks) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return `${bytes} ${hash.digest('hex')}`;
}
async function text(chunks) {
  let out = '';
  for await (const chunk of chunks) out += chunk;
  return out;
}
/** Express and Fastify read cookies with a plugin; the apps read the header, as the plugin would. */
function cookies(header = '') {
  return Object.fromEntries(header.split(';').filter(Boolean).map((pair) => pair.trim().split('=').map(decodeURIComponent)));
}
const user = (framework, id, q) => ({ framework, id, q: q ?? null });

function expressApp() {
  const app = express();
  const base = '/express';
  app.get(`${base}/users/:id`, (req, res) => res.set('X-Framework', 'express').json(user('express', req.params.id, req.query.q)));
  app.get(`${base}/headers`, (req, res) => res.json({ custom: req.get('x-custom'), agent: req.get('user-agent') }));
  app.post(`${base}/json`, express.json(), (req, res) => res.status(201).json({ doubled: req.body.n * 2 }));
  app.get(`${base}/cookies`, (req, res) => {
    res.cookie('a', '1');
    res.cookie('b', '2', { httpOnly: true });
    res.json({ session: cookies(req.get('cookie')).session ?? null });
  });
  app.get(`${base}/redirect`, (_req, res) => res.redirect(`${base}/users/7`));
  app.get(`${base}/boom`, () => {
    throw new Error('boom');
  });
  app.get(`${base}/stream`, (_req, res) => {
    res.type('application/octet-stream');
    Readable.from(bodyChunks()).pipe(res);
  });
  app.post(`${base}/upload`, async (req, res) => res.type('text/plain').send(await digest(req)));
  app.use((err, _req, res, _next) => res.status(err.status ?? 500).json({ error: err.message }));
  return app;
}

function koaApp() {
  const app = new Koa();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      ctx.status = err.status ?? 500;
      ctx.body = { error: err.message };
    }
  });
  // Koa has no router of its own; a path switch stands in for @koa/router
  app.use(async (ctx) => {
    const [, , route, id] = ctx.path.split('/');
    const get = ctx.method === 'GET' || ctx.method === 'HEAD';
    if (get && route === 'users' && id) {
      ctx.set('X-Framework', 'koa');
      ctx.body = user('koa', id, ctx.query.q);
    } else if (get && route === 'headers') ctx.body = { custom: ctx.get('x-custom'), agent: ctx.get('user-agent') };
    else if (ctx.method === 'POST' && route === 'json') {
      let body;
      try {
        body = JSON.parse(await text(ctx.req));
      } catch (err) {
        ctx.throw(400, err.message);
      }
      ctx.status = 201;
      ctx.body = { doubled: body.n * 2 };
    } else if (get && route === 'cookies') {
      ctx.cookies.set('a', '1', { httpOnly: false });
      ctx.cookies.set('b', '2', { httpOnly: true });
      ctx.body = { session: ctx.cookies.get('session') ?? null };
    } else if (get && route === 'redirect') ctx.redirect('/koa/users/7');
    else if (get && route === 'boom') throw new Error('boom');
    else if (get && route === 'stream') {
      ctx.type = 'application/octet-stream';
      ctx.body = Readable.from(bodyChunks());
    } else if (ctx.method === 'POST' && route === 'upload') {
      ctx.type = 'text/plain';
      ctx.body = await digest(ctx.req);
    }
    // anything else: Koa's own 404
  });
  return app;
}

function fastifyApp(fcgi) {
  const app = Fastify({ serverFactory: (handler) => fcgi.createServer(handler) });
  const base = '/fastify';
  app.get(`${base}/users/:id`, async (req, reply) => reply.header('X-Framework', 'fastify').send(user('fastify', req.params.id, req.query.q)));
  app.get(`${base}/headers`, async (req) => ({ custom: req.headers['x-custom'], agent: req.headers['user-agent'] }));
  app.post(`${base}/json`, async (req, reply) => reply.code(201).send({ doubled: req.body.n * 2 }));
  app.get(`${base}/cookies`, async (req, reply) => {
    reply.header('set-cookie', ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    return { session: cookies(req.headers.cookie).session ?? null };
  });
  app.get(`${base}/redirect`, async (_req, reply) => reply.redirect(`${base}/users/7`));
  app.get(`${base}/boom`, async () => {
    throw new Error('boom');
  });
  app.get(`${base}/stream`, async (_req, reply) => reply.type('application/octet-stream').send(Readable.from(bodyChunks())));
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => digest(payload).then((d) => done(null, d), done));
  app.post(`${base}/upload`, async (req, reply) => reply.type('text/plain').send(req.body));
  app.setErrorHandler((err, _req, reply) => reply.code(err.statusCode ?? 500).send({ error: err.message }));
  return app;
}

function honoApp() {
  const app = new Hono().basePath('/hono');
  app.get('/users/:id', (c) => c.json(user('hono', c.req.param('id'), c.req.query('q')), 200, { 'X-Framework': 'hono' }));
  app.get('/headers', (c) => c.json({ custom: c.req.header('x-custom'), agent: c.req.header('user-agent') }));
  app.post('/json', async (c) => {
    let body;
    try {
      body = await c.req.json();
    } catch (err) {
      return c.json({ error: err.message }, 400);
    }
    return c.json({ doubled: body.n * 2 }, 201);
  });
  app.get('/cookies', (c) => {
    setCookie(c, 'a', '1');
    setCookie(c, 'b', '2', { httpOnly: true });
    return c.json({ session: getCookie(c, 'session') ?? null });
  });
  app.get('/redirect', (c) => c.redirect('/hono/users/7'));
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.get('/stream', (c) => c.body(webStream(), 200, { 'Content-Type': 'application/octet-stream' }));
  app.post('/upload', async (c) => c.text(await digest([new Uint8Array(await c.req.arrayBuffer())])));
  app.onError((err, c) => c.json({ error: err.message }, 500));
  return app;
}

/**
 * Starts the four apps on free 127.0.0.1 ports, each with a different listen() form users write.
 * Resolves to { framework: { port, close() } } once all listen.
 */
export async function startApps(fcgi) {
  const running = (server, close) => ({ port: server.address().port, close });
  const closing = (server) => () => new Promise((resolve) => server.close(() => resolve()));

  const expressServer = fcgi.createServer(expressApp());
  await new Promise((resolve) => expressServer.listen(0, '127.0.0.1', resolve));

  const koaServer = fcgi.createServer(koaApp().callback());
  await new Promise((resolve) => koaServer.listen({ port: 0, host: '127.0.0.1' }, resolve));

  const fastify = fastifyApp(fcgi);
  await fastify.listen({ port: 0, host: '127.0.0.1' });

  const honoServer = fcgi.serve(honoApp().fetch, { handleSignals: false, listen: { port: 0, host: '127.0.0.1' } });
  await new Promise((resolve) => honoServer.once('listening', resolve));

  return {
    express: running(expressServer, closing(expressServer)),
    koa: running(koaServer, closing(koaServer)),
    fastify: running(fastify.server, () => fastify.close()),
    hono: running(honoServer, closing(honoServer)),
  };
}
