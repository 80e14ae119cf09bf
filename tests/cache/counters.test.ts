/**
 * The cache's counters in the one counters registry (issue #19 item 3): each cache middleware
 * registers its counters in the registry its connection comes from, summed with the other
 * middlewares there in `featureCounters(registry).cache`; a cache on a raw ioredis client keeps its
 * own (`mw.cache.counters`).
 */
import Koa from 'koa';
import { Redis } from 'ioredis';
import { expect, inject, it } from 'vitest';
import { featureCounters } from '../../src/counters.js';
import { responseCache } from '../../src/middlewares/cache/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { agentFor, registryFor } from './helpers.js';

const redis = inject('redis');

function app(mw: ReturnType<typeof responseCache>) {
  return agentFor(new Koa().use(mw).use((ctx) => void (ctx.body = { path: ctx.path })));
}

it("sums every cache middleware's counters on a registry's connections; another registry sees none", async () => {
  const registry = await registryFor(redis.standalone.url, 5000);
  const other = await registryFor(redis.standalone.url, 5000);
  expect(featureCounters(registry).cache).toBeNull();
  const options = { registry, logger: captureLogger(), readTimeout: 5000, writeTimeout: 5000, routes: ['/a', '/b'] };
  const one = responseCache({ ...options, prefix: randomPrefix('cnt-cache') });
  const two = responseCache({ ...options, prefix: randomPrefix('cnt-cache') });
  const a = app(one);
  const b = app(two);
  await a.get('/a').expect(200);
  await a.get('/a').expect(200);
  await b.get('/b').expect(200);
  await one.cache.purgeAll();

  expect(one.cache.counters).toMatchObject({ misses: 1, hits: 1, stores: 1, purges: 2 });
  expect(two.cache.counters).toMatchObject({ misses: 1, hits: 0, stores: 1 });
  expect(featureCounters(registry).cache).toEqual({
    hits: 1,
    misses: 2,
    bypasses: 0,
    stores: 2,
    discarded: 0,
    coalesced: 0,
    stale: 0,
    refreshes: 0,
    staleIfError: 0,
    purges: 2,
    purgedKeys: one.cache.counters.purgedKeys,
    errors: 0,
  });
  expect(featureCounters(other).cache).toBeNull();
});

it('a cache on a raw ioredis client keeps its counters to itself', async () => {
  const registry = await registryFor(redis.standalone.url, 5000);
  const client = new Redis(redis.standalone.url);
  try {
    await client.ping();
    const mw = responseCache({ client, prefix: randomPrefix('cnt-cache-raw'), logger: captureLogger(), readTimeout: 5000, routes: ['/a'] });
    const agent = app(mw);
    await agent.get('/a').expect(200);
    await agent.get('/a').expect(200);
    expect(mw.cache.counters).toMatchObject({ misses: 1, hits: 1 });
    expect(featureCounters(registry).cache).toBeNull();
  } finally {
    client.disconnect();
  }
});
