/**
 * Entry keys of Strapi rules carry a short hash of the schemas of the content types they depend
 * on: after a deploy that changes one, the new instances never read entries built from the old
 * schema, and nothing is flushed (instances still on the old schema keep their entries).
 */
import Koa from 'koa';
import request from 'supertest';
import { expect, inject, it } from 'vitest';
import { createStrapiCache } from '../../src/middlewares/cache/index.js';
import { schemaHash, type ContentTypeInfo } from '../../src/middlewares/cache/options.js';
import type { BoundedConnection } from '../../src/core/resolve.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { registryFor } from './helpers.js';

const redis = inject('redis');

const article = (attributes: Record<string, unknown>): ContentTypeInfo => ({
  kind: 'collectionType',
  info: { singularName: 'article', pluralName: 'articles' },
  attributes,
  options: { draftAndPublish: true },
});
const author = (attributes: Record<string, unknown>): ContentTypeInfo => ({
  kind: 'collectionType',
  info: { singularName: 'author', pluralName: 'authors' },
  attributes,
});

/** One "instance" of a deploy: a Strapi-shaped host with these schemas, and a Koa app behind its cache. */
function instance(connection: BoundedConnection, prefix: string, contentTypes: Record<string, ContentTypeInfo>, version: string) {
  const strapi = {
    log: captureLogger(),
    config: { get: (path: string, d?: unknown) => (path === 'api.rest.prefix' ? '/api' : d) },
    contentTypes,
    plugin: (name: string) => (name === 'redis' ? { service: () => ({ get: () => connection }) } : undefined),
  };
  const mw = createStrapiCache(
    {
      connection: 'default',
      prefix,
      contentTypes: [{ contentType: 'api::article.article', relatedContentTypes: ['api::author.author'] }],
      routes: ['/api/stats'],
    },
    { strapi },
  );
  const app = new Koa();
  app.use(mw);
  app.use((ctx) => {
    ctx.body = { built: version };
  });
  return request(app.callback());
}

it('a changed schema (the rule’s own or a related one) starts new entries; the old ones stay for the old instances; key order does not matter', async () => {
  const registry = await registryFor(redis.standalone.url);
  const conn = registry.get('default');
  const prefix = randomPrefix('cache-schema');
  const v1 = {
    'api::article.article': article({ title: { type: 'string' }, body: { type: 'text' } }),
    'api::author.author': author({ name: { type: 'string' } }),
  };
  const old = instance(conn, prefix, v1, 'v1');
  expect((await old.get('/api/articles')).headers['x-cache']).toBe('MISS');
  expect((await old.get('/api/stats')).headers['x-cache']).toBe('MISS');

  // the same schemas, attributes listed in another order: same hash, same entries
  const same = instance(
    conn,
    prefix,
    { 'api::author.author': author({ name: { type: 'string' } }), 'api::article.article': article({ body: { type: 'text' }, title: { type: 'string' } }) },
    'v1-again',
  );
  const shared = await same.get('/api/articles');
  expect(shared.headers['x-cache']).toBe('HIT');
  expect(shared.body.built).toBe('v1');

  // a deploy adds a field to the article: a MISS, built from the new schema
  const v2 = { ...v1, 'api::article.article': article({ title: { type: 'string' }, body: { type: 'text' }, summary: { type: 'string' } }) };
  const deployed = instance(conn, prefix, v2, 'v2');
  const fresh = await deployed.get('/api/articles');
  expect(fresh.headers['x-cache']).toBe('MISS');
  expect(fresh.body.built).toBe('v2');
  // a related content type's change counts too
  const v3 = { ...v2, 'api::author.author': author({ name: { type: 'string' }, bio: { type: 'text' } }) };
  expect((await instance(conn, prefix, v3, 'v3').get('/api/articles')).body.built).toBe('v3');
  // nothing was flushed: an instance still on v1 keeps serving its entry during the rolling deploy
  const still = await old.get('/api/articles');
  expect(still.headers['x-cache']).toBe('HIT');
  expect(still.body.built).toBe('v1');
  // a path rule with no content type has no schema part
  expect((await deployed.get('/api/stats')).headers['x-cache']).toBe('HIT');
  const keys = [
    `${prefix}e:GET /api/articles|schema=${schemaHash(['api::article.article', 'api::author.author'], v1)}`,
    `${prefix}e:GET /api/articles|schema=${schemaHash(['api::article.article', 'api::author.author'], v2)}`,
    `${prefix}e:GET /api/stats`,
  ];
  expect(await registry.client('default').exists(...keys)).toBe(3);
  expect(schemaHash(['api::article.article'], v1)).toMatch(/^[0-9a-f]{8}$/);
  expect(schemaHash(['api::article.article'], v1)).not.toBe(schemaHash(['api::article.article'], v2));
});
