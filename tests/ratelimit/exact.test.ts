/**
 * Exact counting under heavy concurrency: 1,000 concurrent HTTP requests through the middleware,
 * and 20,000 concurrent increments through the store, on standalone and Cluster.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisRegistry, RedisRateLimitStore, type RedisRegistry } from '../../src/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { counterOf, ipKey, limitedApp, request } from './helpers.js';

const redis = inject('redis');

describe.each([
  ['standalone', () => redis.standalone.url as unknown],
  ['cluster', () => ({ nodes: redis.cluster.nodes }) as unknown],
])('on %s', (_kind, connection) => {
  let registry: RedisRegistry;
  beforeAll(async () => {
    registry = createRedisRegistry({ connections: { default: { connection: connection() as never, requestTimeout: 10_000 } } }, { logger: captureLogger() });
    await registry.waitUntilReady();
  });
  afterAll(async () => {
    await registry.close();
  });

  it('1,000 concurrent requests: exactly max pass, the rest get 429, Redis holds 1000', async () => {
    const keyPrefix = randomPrefix('rl-1k');
    const app = limitedApp({ registry, keyPrefix, max: 400, interval: 60_000 });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const port = (server.address() as { port: number }).port;
      const statuses = await Promise.all(
        Array.from({ length: 1000 }, () =>
          request(`http://127.0.0.1:${port}`)
            .get('/')
            .then((r) => r.status),
        ),
      );
      expect(statuses.filter((s) => s === 200)).toHaveLength(400);
      expect(statuses.filter((s) => s === 429)).toHaveLength(600);
      const { value, pttl } = await counterOf(registry.client('default'), ipKey(keyPrefix));
      expect(value).toBe('1000');
      expect(pttl).toBeGreaterThan(0);
    } finally {
      server.close();
    }
  }, 60_000);

  it('20,000 concurrent increments: every count from 1 to 20,000 handed out once', async () => {
    const store = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rl-20k'), logger: captureLogger() });
    const hits = await Promise.all(Array.from({ length: 20_000 }, () => store.incr('one-key', { interval: 60_000 }, 1)));
    const counters = hits.map((h) => h.counter).sort((x, y) => x - y);
    expect(counters[0]).toBe(1);
    expect(counters[counters.length - 1]).toBe(20_000);
    expect(new Set(counters).size).toBe(20_000);
  }, 60_000);
});
