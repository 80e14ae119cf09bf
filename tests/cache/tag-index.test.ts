/**
 * The tag index under load and under races (issue #13 item 6): expired entries leave the index as
 * new entries are written, a purge of a big tag completes with every command within its bound, and
 * no entry a purge should remove survives it: not one written while the purge drained the index,
 * not one whose tagging failed. Entries are written through the store's own write path; what
 * survives is checked with SCAN over the test's own prefix (never part of the cache itself).
 */
import { Redis, type Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RedisClient } from '../../src/core/client.js';
import { responseCache } from '../../src/middlewares/cache/index.js';
import { encodeEntry, type CacheStore } from '../../src/middlewares/cache/store.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { cachedApp, registryFor } from './helpers.js';

const redis = inject('redis');

const value = (i: number) => encodeEntry({ v: 1, s: 200, h: { 'content-type': 'application/json' }, e: '', t: Date.now() }, Buffer.from(`{"i":${i}}`));

/** Every key matching `pattern` on every master (SCAN; the test's own prefix only). */
async function scanKeys(client: RedisClient, pattern: string): Promise<string[]> {
  const nodes: Redis[] = (client as Cluster).isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

/** Write `count` entries through the store (as a miss does), `concurrency` at a time. */
async function fill(store: CacheStore, from: number, count: number, ttlMs: number, tag: string, concurrency = 500): Promise<void> {
  const generation = await store.generations([tag]);
  if (generation === undefined) throw new Error('generation read failed');
  for (let start = from; start < from + count; start += concurrency) {
    const writes: Array<Promise<boolean>> = [];
    for (let i = start; i < Math.min(from + count, start + concurrency); i++)
      writes.push(store.write(store.entryKey(`GET /q?i=${i}`), value(i), ttlMs, [tag], generation));
    const stored = await Promise.all(writes);
    const failed = stored.filter((ok) => !ok).length;
    if (failed) throw new Error(`${failed} of ${stored.length} writes failed`);
  }
}

describe('100,000 distinct query strings on one tag (dedicated server)', () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await startStandalone();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('the index holds only live entries; a purge with writeTimeout 250 ms completes and leaves no entry', async () => {
    // requestTimeout and writeTimeout 250 ms: the connection default another change lowers to
    const registry = await registryFor(server.url, 250);
    const client = registry.client('default');
    const prefix = randomPrefix('cache-tags');
    const mw = responseCache({ registry, prefix, logger: captureLogger(), writeTimeout: 250, routes: [{ path: '/q', tags: ['q'] }] });
    // The set-up writes through a second middleware on the same keys, with loose bounds (a loaded
    // machine must not fail the set-up); the purge under test runs with the 250 ms bound.
    const store = responseCache({ registry, prefix, logger: captureLogger(), writeTimeout: 10_000, readTimeout: 10_000, routes: [{ path: '/q', tags: ['q'] }] })
      .cache.store;

    // Steady traffic on one tag: 50,000 entries that live 2 minutes, 40,000 that live 1 s, and,
    // once those have expired, 10,000 more long-lived ones (100,000 distinct query strings).
    await fill(store, 0, 50_000, 120_000, 'q');
    await fill(store, 50_000, 40_000, 1_000, 'q');
    const shortDone = Date.now();
    const lastShort = store.entryKey('GET /q?i=89999');
    for (let polls = 0; (await client.exists(lastShort)) === 1; polls++) {
      if (polls > 200) throw new Error('the short-lived entries did not expire');
      await new Promise((r) => setTimeout(r, 25));
    }
    // the index keeps a member up to 1 s past its entry's expiry (clock slack between nodes)
    await new Promise((r) => setTimeout(r, Math.max(0, shortDone + 1_000 + 1_100 - Date.now())));
    await fill(store, 90_000, 10_000, 120_000, 'q');

    const live = await scanKeys(client, `${prefix}e:*`);
    expect(live).toHaveLength(60_000);
    // Every live entry is indexed, and the index holds nothing else
    expect(await store.tagSize('q')).toBe(live.length);

    const errorsBefore = mw.cache.counters.errors;
    const started = performance.now();
    const removed = await mw.cache.purgeTag('q');
    const elapsed = performance.now() - started;
    console.info(`[tag-index] purge of ${removed} entries took ${elapsed.toFixed(0)} ms`);
    expect(removed).toBe(60_000);
    expect(mw.cache.counters.errors).toBe(errorsBefore);
    expect(await scanKeys(client, `${prefix}e:*`)).toEqual([]);
    expect(await store.tagSize('q')).toBe(0);
  }, 180_000);
});

describe.each([
  ['standalone', () => redis.standalone.url as unknown],
  ['cluster', () => ({ nodes: redis.cluster.nodes }) as unknown],
])('purge races on %s', (_kind, connection) => {
  it('an entry re-filled while a purge drains the index stays indexed: the next purge removes it', async () => {
    const registry = await registryFor(connection());
    const real = registry.client('default');
    let armed = false;
    let refilled: string | undefined;
    let store!: CacheStore;
    // The real client, observed: right after the purge's first UNLINK is answered, a request
    // re-fills the first key it removed (a fresh fill: it read the generation after the purge's INCR).
    const observed = new Proxy(real, {
      get(target, prop) {
        if (prop === 'unlink') {
          return async (...keys: string[]) => {
            const reply = await (target.unlink as (...k: string[]) => Promise<number>)(...keys);
            if (armed) {
              armed = false;
              refilled = keys.flat()[0];
              const generation = await store.generations(['items']);
              expect(await store.write(refilled!, value(-1), 30_000, ['items'], generation!)).toBe(true);
            }
            return reply;
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as RedisClient;
    const prefix = randomPrefix('cache-race');
    const mw = responseCache({ client: observed, prefix, logger: captureLogger(), routes: [{ path: '/q', tags: ['items'] }] });
    store = mw.cache.store;
    await fill(store, 0, 50, 30_000, 'items', 50);

    armed = true;
    expect(await mw.cache.purgeTag('items')).toBe(50);
    expect(refilled).toBeDefined();
    expect(await real.exists(refilled!)).toBe(1); // the fresh fill is kept
    expect(await store.tagSize('items')).toBe(1);

    expect(await mw.cache.purgeTag('items')).toBe(1);
    expect(await real.exists(refilled!)).toBe(0);
    expect(await scanKeys(real, `${prefix}e:*`)).toEqual([]);
  });

  it('a purge of 1,700 entries drains them in bounded batches (250 ms per command) and leaves neither entries nor drain keys', async () => {
    const registry = await registryFor(connection(), 250);
    const client = registry.client('default');
    const prefix = randomPrefix('cache-batches');
    const routes = [{ path: '/q', tags: ['items'] }];
    const filler = responseCache({ registry, prefix, logger: captureLogger(), writeTimeout: 10_000, readTimeout: 10_000, routes }).cache.store;
    const mw = responseCache({ registry, prefix, logger: captureLogger(), writeTimeout: 250, routes });
    await fill(filler, 0, 1_700, 30_000, 'items', 200);
    expect(await mw.cache.store.tagSize('items')).toBe(1_700);
    expect(await mw.cache.purgeTag('items')).toBe(1_700);
    expect(mw.cache.counters.errors).toBe(0);
    expect(await scanKeys(client, `${prefix}e:*`)).toEqual([]);
    // the index was renamed away and its drain key emptied (deleted): no tag key is left
    expect(await scanKeys(client, `${prefix}ti:*`)).toEqual([]);
    // the generation moved: a fill that read it before the purge is discarded
    expect(await client.get(`${prefix}g:items`)).toBe('1');
  });

  it('entries indexed by the previous version (a plain set) are removed by a purge too', async () => {
    const registry = await registryFor(connection());
    const client = registry.client('default');
    const { agent, mw, prefix } = cachedApp(registry);
    await agent.get('/items/1').expect(200);
    // what 0.1 wrote: the entry, and its key in the plain set <prefix>t:<tag>
    const legacy = `${prefix}e:GET /items/legacy`;
    await client.set(legacy, value(1), 'PX', 30_000);
    await client.sadd(`${prefix}t:items`, legacy);
    await client.pexpire(`${prefix}t:items`, 30_000);
    expect(await mw.cache.purgeTag('items')).toBe(2);
    expect(await client.exists(legacy)).toBe(0);
    expect(await client.exists(`${prefix}t:items`)).toBe(0);
    expect(await scanKeys(client, `${prefix}e:*`)).toEqual([]);
  });
});

describe('a write whose tagging fails (dedicated server, ACL)', () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await startStandalone();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('the stored entry is removed again: no entry is left that no purge could reach', async () => {
    const admin = new Redis(server.url);
    const prefix = randomPrefix('cache-acl');
    try {
      // A user that may write entries, generations and fill locks, but not tag indexes.
      await admin.call('ACL', 'SETUSER', 'cache', 'on', '>secret-pass', 'resetkeys', `~${prefix}e:*`, `~${prefix}g:*`, `~${prefix}l:*`, '+@all');
      const registry = await registryFor(`redis://cache:secret-pass@127.0.0.1:${server.port}`);
      const { agent, mw } = cachedApp(registry, { prefix, readTimeout: 5_000 });
      expect((await agent.get('/items/1').expect(200)).headers['x-cache']).toBe('MISS');
      expect(await scanKeys(admin, `${prefix}e:*`)).toEqual([]);
      expect((await agent.get('/items/1').expect(200)).headers['x-cache']).toBe('MISS');
      expect(mw.cache.counters.stores).toBe(0);
      expect(mw.cache.counters.errors).toBeGreaterThan(0);
    } finally {
      admin.disconnect();
    }
  });
});
