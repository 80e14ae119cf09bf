/**
 * The Strapi factory of plugin::redis.cache and its document-service invalidation, driven with the
 * shapes Strapi 5 passes (content types, `strapi.documents.use` with Strapi's own middleware
 * manager semantics) on real Redis. The real Strapi runs in tests/e2e/cache.test.ts.
 */
import Koa from 'koa';
import request from 'supertest';
import { describe, expect, inject, it } from 'vitest';
import { createCacheService, createStrapiCache, registerCacheInvalidation, type StrapiCacheHost } from '../../src/middlewares/cache/index.js';
import { schemaHash } from '../../src/middlewares/cache/options.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { registryFor } from './helpers.js';

const redis = inject('redis');

type DocMiddleware = (ctx: { uid: string; action: string }, next: () => Promise<unknown>) => Promise<unknown>;

/** A Strapi stand-in: content types, config, the connections service, and a document service with Strapi's middleware chain. */
function fakeStrapi(connection: unknown) {
  const middlewares: DocMiddleware[] = [];
  const log = captureLogger();
  const strapi = {
    log,
    config: { get: (path: string, d?: unknown) => (path === 'api.rest.prefix' ? '/api' : d) },
    contentTypes: {
      'api::article.article': { kind: 'collectionType', info: { singularName: 'article', pluralName: 'articles' } },
      'api::author.author': { kind: 'collectionType', info: { singularName: 'author', pluralName: 'authors' } },
      'api::home.home': { kind: 'singleType', info: { singularName: 'home', pluralName: 'homes' } },
    },
    plugin: (name: string) => (name === 'redis' ? { service: () => ({ get: () => connection }) } : undefined),
    documents: {
      use: (m: DocMiddleware) => void middlewares.push(m),
    },
    /** Run a document action through the middlewares, as Strapi's middleware manager does. */
    async run(uid: string, action: string, write: () => Promise<unknown>) {
      let i = 0;
      const next = async (): Promise<unknown> => (i < middlewares.length ? middlewares[i++]!({ uid, action }, next) : write());
      return next();
    },
    middlewares,
  };
  return strapi;
}

describe('plugin::redis.cache in a Strapi-shaped host', () => {
  it('content types map to their REST find/findOne routes; a write through the document service purges, awaited', async () => {
    const registry = await registryFor(redis.standalone.url);
    const strapi = fakeStrapi(registry.get('default'));
    registerCacheInvalidation(strapi);
    registerCacheInvalidation(strapi); // idempotent
    const prefix = randomPrefix('cache-strapi');
    const mw = createStrapiCache(
      {
        connection: 'default',
        prefix,
        contentTypes: ['api::home.home', { contentType: 'api::article.article', maxAge: 20_000, relatedContentTypes: ['api::author.author'] }],
      },
      { strapi },
    );
    expect(strapi.middlewares).toHaveLength(1); // the factory did not add a second one
    const data: Record<string, string> = { '/api/articles': 'v1', '/api/articles/abc': 'v1', '/api/home': 'v1', '/api/articles/abc/extra': 'v1' };
    const app = new Koa();
    app.use(mw);
    app.use((ctx) => {
      ctx.body = { data: data[ctx.path] ?? null };
    });
    const agent = request(app.callback());
    for (const path of ['/api/articles', '/api/articles/abc', '/api/home', '/api/articles/']) {
      await agent.get(path).expect(200);
      expect((await agent.get(path)).headers['x-cache'], path).toBe('HIT');
    }
    expect((await agent.get('/api/articles/abc/extra')).headers['x-cache']).toBeUndefined();
    // the key ends with the hash of the schemas the rule depends on (article and its related author)
    const schema = schemaHash(['api::article.article', 'api::author.author'], strapi.contentTypes);
    expect(await registry.client('default').pttl(`${prefix}e:GET /api/articles|schema=${schema}`)).toBeGreaterThan(19_000);

    data['/api/articles'] = 'v2';
    await strapi.run('api::article.article', 'create', async () => ({ id: 1 }));
    const purgedBeforeReturn = (await agent.get('/api/articles')).body.data === 'v2';
    expect(purgedBeforeReturn).toBe(true);
    // a related type's write purges too; a read action and an unrelated type do not
    expect((await agent.get('/api/articles/abc')).headers['x-cache']).toBe('MISS');
    expect((await agent.get('/api/articles/abc')).headers['x-cache']).toBe('HIT');
    await strapi.run('api::author.author', 'findMany', async () => []);
    expect((await agent.get('/api/articles/abc')).headers['x-cache']).toBe('HIT');
    await strapi.run('api::author.author', 'update', async () => ({}));
    expect((await agent.get('/api/articles/abc')).headers['x-cache']).toBe('MISS');
    expect((await agent.get('/api/home')).headers['x-cache']).toBe('HIT');
    for (const action of ['publish', 'unpublish', 'discardDraft', 'delete']) {
      await agent.get('/api/home');
      await strapi.run('api::home.home', action, async () => ({}));
      expect((await agent.get('/api/home')).headers['x-cache'], action).toBe('MISS');
    }
    // a failed write purges nothing and its error reaches the caller
    await agent.get('/api/articles');
    await expect(strapi.run('api::article.article', 'update', async () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    expect((await agent.get('/api/articles')).headers['x-cache']).toBe('HIT');

    const service = createCacheService(strapi);
    expect(await service.purgeContentType('api::article.article')).toBeGreaterThan(0);
    expect((await agent.get('/api/articles')).headers['x-cache']).toBe('MISS');
    await agent.get('/api/home');
    expect(await service.purgeAll()).toBeGreaterThan(0);
    expect((await agent.get('/api/home')).headers['x-cache']).toBe('MISS');
    expect(service.stats()).toMatchObject({ purges: expect.any(Number), hits: expect.any(Number) });
    expect(service.stats().hits).toBeGreaterThan(5);
  });

  it('a purge failing during a write is logged, the write still succeeds', async () => {
    const registry = await registryFor(redis.standalone.url);
    const conn = registry.get('default');
    let broken = false;
    const flaky = {
      name: 'default',
      client: conn.client,
      run: <T>(cmd: (c: typeof conn.client) => Promise<T>, t?: number) => (broken ? Promise.reject(new Error('boom')) : conn.run(cmd, t)),
    };
    const strapi = fakeStrapi(flaky);
    createStrapiCache({ prefix: randomPrefix('cache-strapi'), contentTypes: ['api::article.article'] }, { strapi });
    broken = true;
    await expect(strapi.run('api::article.article', 'create', async () => ({ id: 7 }))).resolves.toEqual({ id: 7 });
    expect(strapi.log.of('warn').join('\n')).toMatch(/purge of "api::article.article" failed/);
  });

  it('boot errors name the option: unknown content type, unknown connection', () => {
    const strapi = fakeStrapi(undefined) as unknown as StrapiCacheHost;
    expect(() => createStrapiCache({ contentTypes: ['api::nope.nope'] }, { strapi })).toThrow(
      /Invalid config of plugin::redis\.cache \(1 problem\):\n {2}- config\.contentTypes\[0\]\.contentType: got "api::nope\.nope"; expected a content type UID of this app \(api::article\.article, api::author\.author, api::home\.home\)/,
    );
    const noConn = {
      ...strapi,
      plugin: () => ({
        service: () => ({
          get: (n: string) => {
            throw new Error(`unknown connection "${n}"; known: default`);
          },
        }),
      }),
    };
    expect(() => createStrapiCache({ connection: 'cache', contentTypes: ['api::article.article'] }, { strapi: noConn })).toThrow(
      /config\.connection: got "cache"; expected unknown connection "cache"/,
    );
  });
});
