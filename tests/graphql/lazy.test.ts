/**
 * Lazy resolution: the cache is created (as in config/plugins.ts) before any connection exists
 * and finds it on first use, through the global `strapi` as the redis plugin exposes it, or uses
 * a raw ioredis client in a plain Apollo app.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createRedisRegistry, RedisConfigError, type RedisRegistry } from '../../src/index.js';
import { createApolloCache, createKeyv, keyvOnRegistry } from '../../src/graphql/index.js';
import { freePort, randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';

const redis = inject('redis');
const open: Array<{ close(): Promise<void> } | { disconnect(): void }> = [];
afterEach(async () => {
  delete (globalThis as { strapi?: unknown }).strapi;
  for (const o of open.splice(0)) {
    if ('close' in o) await o.close();
    else o.disconnect();
  }
});

/** What the redis plugin makes visible: `strapi.plugin('redis').service('connections')`, and `strapi.log`. */
function fakeStrapi(registry: RedisRegistry, log = captureLogger()) {
  const connections = { get: (name: string) => registry.get(name, 'the test') };
  return {
    log,
    plugin: (id: string) => (id === 'redis' ? { service: (name: string) => (name === 'connections' ? connections : undefined) } : undefined),
  };
}

describe('a cache made before its connection exists', () => {
  it('misses (one error line) until the redis plugin has registered, then uses its connection', async () => {
    const logger = captureLogger();
    const namespace = randomPrefix('lazy').slice(0, -1);
    // config/plugins.ts time: no Strapi, no connection yet
    const cache = createApolloCache({ connection: 'cache', namespace, logger });
    expect(await cache.get('fqc:x')).toBeUndefined();
    await cache.set('fqc:x', 'v', { ttl: 10 });
    expect(logger.of('error')).toHaveLength(1);
    expect(logger.of('error')[0]).toMatch(
      /createApolloCache\(\): no Redis to use for connection "cache": this is not a Strapi process.*\{ client \}.*\{ registry \}/,
    );

    // the plugin's register() ran: the global strapi knows the connection
    const registry = createRedisRegistry({ connections: { cache: { connection: redis.standalone.url } } }, { logger: captureLogger() });
    open.push(registry);
    await registry.waitUntilReady();
    (globalThis as { strapi?: unknown }).strapi = fakeStrapi(registry);
    await cache.set('fqc:x', 'v', { ttl: 10 });
    expect(await cache.get('fqc:x')).toBe('v');
    const pttl = await registry.client('cache').pttl(`${namespace}:fqc:x`);
    expect(pttl).toBeGreaterThan(5000);
    expect(pttl).toBeLessThanOrEqual(10_000);
    expect(logger.of('error')).toHaveLength(1);
  });

  it('an unknown connection name: requests are still served, one error line naming the configured connections', async () => {
    const registry = createRedisRegistry({ connections: { cache: { connection: redis.standalone.url } } }, { logger: captureLogger() });
    open.push(registry);
    const strapiLog = captureLogger();
    (globalThis as { strapi?: unknown }).strapi = fakeStrapi(registry, strapiLog);
    const cache = createApolloCache({ connection: 'cahce' });
    for (let i = 0; i < 5; i++) expect(await cache.get('fqc:y')).toBeUndefined();
    await cache.set('fqc:y', 'v');
    // without a logger option, lines go to Strapi's logger
    const errors = strapiLog.of('error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/Unknown Redis connection "cahce".*configured connections: "cache"/);
    expect(cache.counters).toMatchObject({ misses: 5, readErrors: 5, writeErrors: 1 });
  });

  it('works on a raw ioredis client (plain Apollo), and fails at once while that client is not ready', async () => {
    const client = new Redis(redis.standalone.url);
    open.push(client);
    await new Promise((r) => client.once('ready', r));
    const keyv = createKeyv<string>({ client, namespace: randomPrefix('raw').slice(0, -1) });
    await keyv.set('a', 'b', 5000);
    expect(await keyv.get('a')).toBe('b');

    const down = new Redis({ port: await freePort(), host: '127.0.0.1', lazyConnect: false, retryStrategy: () => 200 });
    down.on('error', () => undefined);
    open.push(down);
    const logger = captureLogger();
    const cache = createApolloCache({ client: down, requestTimeout: 5000, logger });
    const started = performance.now();
    expect(await cache.get('fqc:z')).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(100); // not the 5 s bound: nothing was queued
    expect(logger.of('warn')[0]).toMatch(/Apollo cache \(ioredis client, namespace "apollo"\): Redis failed: Redis ioredis client is not ready \(state: \w+\)/);
  });

  it("the connections service's keyv(name, { namespace }): made before the registry exists, resolved on first use", async () => {
    let registry: RedisRegistry | undefined;
    const logger = captureLogger();
    const namespace = randomPrefix('svc').slice(0, -1);
    const keyv = keyvOnRegistry<number>(
      () => {
        if (!registry) throw new Error('The redis plugin has not registered yet.');
        return registry;
      },
      'cache',
      { namespace, logger },
    );
    expect(await keyv.get('n')).toBeUndefined(); // a miss, not a throw
    registry = createRedisRegistry({ connections: { cache: { connection: redis.standalone.url } } }, { logger: captureLogger() });
    open.push(registry);
    await registry.waitUntilReady();
    await keyv.set('n', 42, 5000);
    expect(await keyv.get('n')).toBe(42);
    expect(await registry.client('cache').exists(`${namespace}:n`)).toBe(1);
    expect(logger.of('error')).toEqual([
      expect.stringMatching(/Keyv store \(connection "cache", namespace "t:svc:[0-9a-f]+"\): The redis plugin has not registered yet\./),
    ]);
  });

  it('bad options stop config loading with every problem named', () => {
    let err: unknown;
    try {
      createApolloCache({ connection: 'cache', client: {} as never, maxTtl: 1.5 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RedisConfigError);
    expect((err as RedisConfigError).message).toMatch(/createApolloCache\(\)\.client: .*expected an ioredis Redis or Cluster client/);
    expect((err as RedisConfigError).message).toMatch(/createApolloCache\(\)\.maxTtl: got 1\.5 \(number\); expected a positive integer number of milliseconds/);
  });
});
