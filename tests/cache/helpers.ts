/** Shared helpers of the response cache tests: a Koa app behind the cache on a real registry. */
import * as http from 'node:http';
import { Readable } from 'node:stream';
import Koa from 'koa';
import request from 'supertest';
import { afterEach } from 'vitest';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { responseCache, type ResponseCacheMiddleware, type ResponseCacheOptions } from '../../src/middlewares/cache/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';

const open: RedisRegistry[] = [];
const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((r) => server.close(r))));
  await Promise.all(open.splice(0).map((r) => r.close()));
});

/**
 * A supertest agent on one listening server (closed after the test): every request then carries
 * the same `Host` (`127.0.0.1:<port>`), as a deployed app's clients do. `request(app.callback())`
 * would listen on a new port per request, and the host is part of a plain-Koa cache key.
 */
export function agentFor(app: Pick<Koa, 'callback'>) {
  // listen(0) without a host binds at once (with a host it resolves later, and supertest would
  // then start and stop the server per request itself)
  const server = http.createServer(app.callback()).listen(0);
  servers.push(server);
  const { port } = server.address() as { port: number };
  // supertest sends requests to 127.0.0.1:<port>: the Host every request carries
  return Object.assign(request(server), { host: `127.0.0.1:${port}` });
}

export async function registryFor(connection: unknown, requestTimeout = 1000): Promise<RedisRegistry> {
  const r = createRedisRegistry({ connections: { default: { connection: connection as never, requestTimeout } } }, { logger: captureLogger() });
  open.push(r);
  await r.waitUntilReady();
  return r;
}

/**
 * A Koa app behind the cache. Routes: /items (JSON with a counter), /items/:id, /text, /cookie
 * (Set-Cookie), /stream, /nostore, /private, /big, /missing (404), /slow (waits on `gate`), /etag (own ETag).
 */
export function cachedApp(registry: RedisRegistry, options: Partial<ResponseCacheOptions> = {}) {
  const prefix = randomPrefix('cache');
  const logger = captureLogger();
  let calls = 0;
  const gate: { wait?: Promise<void> } = {};
  const app = new Koa();
  const mw: ResponseCacheMiddleware = responseCache({
    registry,
    prefix,
    logger,
    maxAge: 30_000,
    routes: [
      { path: '/items', tags: ['items'] },
      { path: '/items/:id', tags: ['items'] },
      '/text',
      '/cookie',
      '/stream',
      '/nostore',
      '/private',
      '/big',
      '/missing',
      '/slow',
      '/etag',
      '/user',
    ],
    ...options,
  });
  app.use(async (ctx, next) => {
    // stands in for an auth layer that ran before the cache (e.g. a Strapi route middleware)
    const user = ctx.get('x-test-user');
    if (user) ctx.state.user = { id: Number(user) };
    await next();
  });
  app.use(mw);
  app.use(async (ctx) => {
    calls++;
    const n = calls;
    switch (ctx.path) {
      case '/text':
        ctx.type = 'text/plain; charset=utf-8';
        ctx.body = `text ${n}`;
        return;
      case '/cookie':
        ctx.cookies.set('a', 'b', { signed: false });
        ctx.body = { n };
        return;
      case '/stream':
        ctx.type = 'text/plain';
        ctx.body = Readable.from([`stream ${n}`]);
        return;
      case '/nostore':
        ctx.set('Cache-Control', 'no-store');
        ctx.body = { n };
        return;
      case '/private':
        ctx.set('Cache-Control', 'private, max-age=60');
        ctx.body = { n };
        return;
      case '/big':
        ctx.body = { n, pad: 'x'.repeat(2000) };
        return;
      case '/missing':
        ctx.status = 404;
        ctx.body = { n };
        return;
      case '/slow':
        await gate.wait;
        ctx.body = { n };
        return;
      case '/etag':
        ctx.set('ETag', '"own-etag"');
        ctx.body = { n };
        return;
      default:
        ctx.body = { n, path: ctx.path, q: ctx.querystring, lang: ctx.get('accept-language') || null };
    }
  });
  const agent = agentFor(app);
  /** The entry key of a request line such as `GET /items?x=1` (the host follows the query; `more`: key headers, caller). */
  const key = (line: string, more = '') => `${prefix}e:${line}|host=${encodeURIComponent(agent.host)}${more}`;
  return { app, agent, prefix, logger, mw, gate, key, calls: () => calls };
}
