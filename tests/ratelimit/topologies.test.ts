/**
 * The limiter and the store on the harness' Redis Cluster (3 masters + 3 replicas) and Sentinel set:
 * one single-key script per hit, so keys on any slot work; counts stay exact.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { RedisRateLimitStore } from '../../src/middlewares/rate-limit/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { limitedApp, request } from './helpers.js';

const redis = inject('redis');
let registry: RedisRegistry;

beforeAll(async () => {
  registry = createRedisRegistry(
    {
      connections: {
        cluster: { connection: { nodes: redis.cluster.nodes } },
        sentinel: { connection: { sentinels: redis.sentinel.sentinels, name: redis.sentinel.name } },
      },
    },
    { logger: captureLogger() },
  );
  await registry.waitUntilReady();
});
afterAll(async () => {
  await registry?.close();
});

describe.each(['cluster', 'sentinel'] as const)('%s', (connection) => {
  it('counts exactly across many keys (slots), 30 concurrent requests each, with a TTL on every key', async () => {
    const keyPrefix = randomPrefix('rlt');
    const agent = request(limitedApp({ registry, connection, keyPrefix, max: 20, keyGenerator: (ctx) => ctx.path.slice(1) }).callback());
    const tenants = Array.from({ length: 8 }, (_, i) => `tenant${i}`);
    const results = await Promise.all(tenants.map(async (t) => (await Promise.all(Array.from({ length: 30 }, () => agent.get(`/${t}`)))).map((r) => r.status)));
    for (const statuses of results) {
      expect(statuses.filter((s) => s === 200)).toHaveLength(20);
      expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    }
    const client = registry.client(connection);
    for (const t of tenants) {
      const key = `${keyPrefix}global:${t}`;
      expect(await client.get(key)).toBe('30');
      const pttl = await client.pttl(key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(60_000);
    }
  });

  it('the store works on it, and takes hits back', async () => {
    const store = new RedisRateLimitStore({ registry, connection, keyPrefix: randomPrefix('rlt') });
    const options = { interval: 10_000 }; // koa2-ratelimit passes its RateLimit's options object to incr and decrement
    const hits = await Promise.all(Array.from({ length: 25 }, () => store.incr('k', options, 1)));
    expect(hits.map((h) => h.counter).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    await store.decrement('k', options, 5);
    expect((await store.incr('k', options, 1)).counter).toBe(21);
  });
});
