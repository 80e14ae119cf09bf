/**
 * A real Apollo Server 4 (response cache plugin, automatic persisted queries) with the suite's
 * cache on standalone, Cluster and Sentinel: hits come from Redis, TTLs are exact, and two
 * servers with separate clients (two app instances) share both caches.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RedisRegistry } from '../../src/index.js';
import { createApolloCache, type RedisApolloCache } from '../../src/graphql/index.js';
import { randomPrefix } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { BOOKS, fqcKey, NOW, sha256, startApollo, type TestServer } from './apollo.js';
import { registryOn, TOPOLOGIES } from './support.js';

const HOUR = 3_600_000;

describe.each(TOPOLOGIES)('Apollo Server 4 with the Redis cache on %s', (topology) => {
  // two registries: two app instances, each with its own connection to the same Redis
  let one: RedisRegistry;
  let two: RedisRegistry;
  const servers: TestServer[] = [];
  const start = async (...args: Parameters<typeof startApollo>) => {
    const server = await startApollo(...args);
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    [one, two] = await Promise.all([registryOn(topology), registryOn(topology)]).then((r) => r.map((x) => x.registry));
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });
  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
  });

  it('the second identical query is a hit served from Redis (fqc: key with the hint as PTTL), on this and another instance', async () => {
    const namespace = randomPrefix(`fqc-${topology}`).slice(0, -1);
    const cacheA: RedisApolloCache = createApolloCache({ registry: one, connection: 'cache', namespace, maxTtl: HOUR });
    const a = await start({ cache: cacheA });

    const first = await a.run(BOOKS);
    expect(first.errors).toBeUndefined();
    expect(first.age).toBeUndefined(); // executed, not from the cache
    expect(a.calls.books).toBe(1);

    // the response cache writes in the background: wait for the key (namespace + Apollo's key, prefixed once)
    const client = one.client('cache');
    const key = `${namespace}:${fqcKey(BOOKS, 'Books')}`;
    await waitFor(async () => (await client.exists(key)) === 1, 5000, 'the fqc: key');
    const pttl = await client.pttl(key);
    // @cacheControl(maxAge: 30): 30 s, written as PX 30000
    expect(pttl).toBeGreaterThan(25_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
    expect(JSON.parse((await client.get(key))!)).toMatchObject({ data: first.data, cachePolicy: { maxAge: 30 } });

    const second = await a.run(BOOKS);
    expect(second.data).toEqual(first.data);
    expect(second.age).toBeDefined(); // the plugin sets `age` on hits only
    expect(a.calls.books).toBe(1);
    expect(cacheA.counters).toMatchObject({ hits: 1, readErrors: 0, writes: 1, writeErrors: 0 });

    // another instance: its own cache object and connection, same namespace
    const b = await start({ cache: createApolloCache({ registry: two, connection: 'cache', namespace, maxTtl: HOUR }) });
    const third = await b.run(BOOKS);
    expect(third.data).toEqual(first.data);
    expect(third.age).toBeDefined();
    expect(b.calls.books).toBe(0);

    // an uncacheable query (no hint) is never written
    await a.run(NOW);
    await a.run(NOW);
    expect(a.calls.now).toBe(2);
    expect(cacheA.counters.writes).toBe(1);
    expect(await client.exists(`${namespace}:${fqcKey(NOW, 'Now')}`)).toBe(0);
  });

  it("automatic persisted queries: the hash registers under apq: with Apollo's TTL (or maxTtl) and is reused by another instance", async () => {
    const namespace = randomPrefix(`apq-${topology}`).slice(0, -1);
    const client = one.client('cache');
    const pq = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });

    // default APQ config: Apollo gives no TTL, so the entry lives maxTtl
    const a = await start({ cache: createApolloCache({ registry: one, connection: 'cache', namespace, maxTtl: HOUR }) });
    const hash = sha256(BOOKS);
    const notFound = await a.run('', pq(hash));
    expect(JSON.stringify(notFound.errors)).toContain('PERSISTED_QUERY_NOT_FOUND');
    const registered = await a.run(BOOKS, pq(hash));
    expect(registered.errors).toBeUndefined();
    const key = `${namespace}:apq:${hash}`;
    await waitFor(async () => (await client.exists(key)) === 1, 5000, 'the apq: key');
    expect(await client.get(key)).toBe(BOOKS); // stored as Apollo gave it
    const pttl = await client.pttl(key);
    expect(pttl).toBeGreaterThan(HOUR - 10_000);
    expect(pttl).toBeLessThanOrEqual(HOUR);

    const b = await start({ cache: createApolloCache({ registry: two, connection: 'cache', namespace, maxTtl: HOUR }) });
    const byHash = await b.run('', pq(hash));
    expect(byHash.errors).toBeUndefined();
    expect(byHash.data).toEqual(registered.data);

    // persistedQueries.ttl (seconds) becomes PX in ms; null is Apollo's "no expiry" = maxTtl
    const ttlNs = `${namespace}-ttl`;
    const server = await start({
      cache: createApolloCache({ registry: one, connection: 'cache', namespace: ttlNs, maxTtl: HOUR }),
      persistedQueries: { ttl: 900 },
    });
    await server.run(NOW, pq(sha256(NOW)));
    await waitFor(async () => (await client.exists(`${ttlNs}:apq:${sha256(NOW)}`)) === 1, 5000, 'the apq: key with ttl');
    const ttlPttl = await client.pttl(`${ttlNs}:apq:${sha256(NOW)}`);
    expect(ttlPttl).toBeGreaterThan(890_000);
    expect(ttlPttl).toBeLessThanOrEqual(900_000);

    const nullNs = `${namespace}-null`;
    const d = await start({
      cache: createApolloCache({ registry: one, connection: 'cache', namespace: nullNs, maxTtl: 60_000 }),
      persistedQueries: { ttl: null },
    });
    await d.run(NOW, pq(sha256(NOW)));
    await waitFor(async () => (await client.exists(`${nullNs}:apq:${sha256(NOW)}`)) === 1, 5000, 'the apq: key with ttl null');
    const nullPttl = await client.pttl(`${nullNs}:apq:${sha256(NOW)}`);
    expect(nullPttl).toBeGreaterThan(50_000);
    expect(nullPttl).toBeLessThanOrEqual(60_000);
  });

  it('reads issued in the same tick are one batch: correct per key, across slots on Cluster', async () => {
    const namespace = randomPrefix(`b-${topology}`).slice(0, -1);
    const cache = createApolloCache({ registry: one, connection: 'cache', namespace });
    const keys = Array.from({ length: 20 }, (_, i) => `fqc:${sha256(String(i))}`);
    await Promise.all(keys.slice(0, 10).map((k) => cache.set(k, `value of ${k}`, { ttl: 30 })));
    const values = await Promise.all(keys.map((k) => cache.get(k)));
    expect(values).toEqual(keys.map((k, i) => (i < 10 ? `value of ${k}` : undefined)));
    expect(cache.counters).toMatchObject({ hits: 10, misses: 10, readErrors: 0, writes: 10 });
    expect(await cache.delete(keys[0]!)).toBe(true);
    expect(await cache.get(keys[0]!)).toBeUndefined();
  });
});
