/**
 * The Keyv store on real standalone, Cluster and Sentinel servers: exact expiry, batched reads
 * that never cross slots, namespaces prefixed once, and what Keyv users see.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Keyv } from 'keyv';
import type { Cluster, Redis } from 'ioredis';
import { RedisConfigError, type RedisRegistry } from '../../src/index.js';
import { createKeyv, createKeyvStore } from '../../src/graphql/index.js';
import { randomPrefix } from '../harness/servers.js';
import { registryOn, tapCommands, TOPOLOGIES, type TopologyName } from './support.js';

const redis = inject('redis');

function nodesOf(topology: TopologyName, registry: RedisRegistry): Array<{ host: string; port: number }> {
  if (topology === 'cluster') return redis.cluster.nodes;
  if (topology === 'standalone') return [{ host: redis.standalone.host, port: redis.standalone.port }];
  const stream = (registry.client('cache') as Redis).stream;
  return [{ host: stream.remoteAddress ?? '127.0.0.1', port: stream.remotePort ?? 0 }];
}

describe.each(TOPOLOGIES)('Keyv store on %s', (topology) => {
  let registry: RedisRegistry;
  beforeAll(async () => {
    ({ registry } = await registryOn(topology));
  });
  afterAll(async () => {
    await registry?.close();
  });
  const client = () => registry.client('cache');

  it('set/get through Keyv, with the TTL in ms as PX and keys prefixed once by the namespace', async () => {
    const ns = randomPrefix('kv').slice(0, -1);
    const keyv = createKeyv<{ n: number }>({ registry, connection: 'cache', namespace: ns });
    expect(await keyv.set('a', { n: 1 }, 1500)).toBe(true);
    expect(await keyv.get('a')).toEqual({ n: 1 });
    // exactly `<ns>:a`: neither Keyv nor the store adds a second prefix
    const pttl = await client().pttl(`${ns}:a`);
    expect(pttl).toBeGreaterThan(1000);
    expect(pttl).toBeLessThanOrEqual(1500);
    expect(await client().exists(`${ns}:${ns}:a`)).toBe(0);
    // a key that itself starts with the namespace: Keyv's own prefixing would read it back under
    // another name through getMany; with the store prefixing, get and getMany agree
    await keyv.set(`${ns}:inner`, { n: 2 }, 5000);
    expect(await client().exists(`${ns}:${ns}:inner`)).toBe(1);
    expect(await keyv.get([`${ns}:inner`, 'a', 'missing'])).toEqual([{ n: 2 }, { n: 1 }, undefined]);
  });

  it('a Keyv you build yourself over the store: Keyv prefixes, the store does not add its own', async () => {
    const ns = randomPrefix('own').slice(0, -1);
    const keyv = new Keyv({ store: createKeyvStore({ registry, connection: 'cache' }), namespace: ns });
    await keyv.set('k', 'v', 5000);
    expect(await client().get(`${ns}:k`)).toContain('"v"');
    expect(await keyv.get('k')).toBe('v');
    // and clear() removes that namespace only
    const other = randomPrefix('other');
    await client().set(`${other}x`, '1', 'PX', 5000);
    await keyv.clear();
    expect(await client().exists(`${ns}:k`)).toBe(0);
    expect(await client().exists(`${other}x`)).toBe(1);
  });

  it('no key lives forever: no TTL (or 0) gets maxTtl, longer TTLs are capped, a negative one removes the key', async () => {
    const ns = randomPrefix('max').slice(0, -1);
    const store = createKeyvStore({ registry, connection: 'cache', namespace: ns, maxTtl: 20_000 });
    await store.set('none', 'x');
    await store.set('zero', 'x', 0);
    await store.set('long', 'x', 3_600_000);
    for (const key of ['none', 'zero', 'long']) {
      const pttl = await client().pttl(`${ns}:${key}`);
      expect({ key, ok: pttl > 15_000 && pttl <= 20_000 }).toEqual({ key, ok: true });
    }
    await store.set('gone', 'x', -1);
    expect(await client().exists(`${ns}:gone`)).toBe(0);
    await store.set('none', 'y', -5);
    expect(await client().exists(`${ns}:none`)).toBe(0);
    // Keyv without a TTL goes the same way
    const keyv = createKeyv({ registry, connection: 'cache', namespace: ns, maxTtl: 20_000 });
    await keyv.set('viaKeyv', 1);
    expect(await client().pttl(`${ns}:viaKeyv`)).toBeGreaterThan(15_000);
  });

  it('batched reads: one MGET on standalone/Sentinel, one GET per key on Cluster, never CROSSSLOT', async () => {
    const ns = randomPrefix('batch').slice(0, -1);
    const store = createKeyvStore({ registry, connection: 'cache', namespace: ns });
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    await Promise.all(keys.filter((_, i) => i % 3 !== 0).map((k) => store.set(k, `v-${k}`, 10_000)));
    if (topology === 'cluster') {
      // the keys really span slots: a single MGET of them is refused by the cluster
      const slots = new Set(await Promise.all(keys.map((k) => (client() as Cluster).cluster('KEYSLOT', `${ns}:${k}`) as Promise<number>)));
      expect(slots.size).toBeGreaterThan(1);
      await expect((client() as Cluster).mget(keys.map((k) => `${ns}:${k}`))).rejects.toThrow(/CROSSSLOT/);
    }
    const tap = await tapCommands(nodesOf(topology, registry), `${ns}:`);
    try {
      const values = await store.getMany<string>(keys);
      expect(values).toEqual(keys.map((k, i) => (i % 3 === 0 ? undefined : `v-${k}`)));
      const seen = (await tap.waitFor(topology === 'cluster' ? keys.length : 1)).map((c) => c[0]!.toLowerCase());
      if (topology === 'cluster') expect(seen).toEqual(keys.map(() => 'get'));
      else expect(seen).toEqual(['mget']);
    } finally {
      await tap.close();
    }
  });

  it('reads from separate ticks of one event-loop turn are merged into one batch, each key once', async () => {
    const ns = randomPrefix('merge').slice(0, -1);
    const store = createKeyvStore({ registry, connection: 'cache', namespace: ns });
    await store.set('hot', 'h', 10_000);
    await store.set('x', 'x', 10_000);
    const tap = await tapCommands(nodesOf(topology, registry), `${ns}:`);
    try {
      // three callers, as three HTTP requests handled in one turn would be (nextTick: separate ticks)
      const reads = [store.getMany<string>(['hot', 'x'])];
      await new Promise<void>((r) => process.nextTick(() => (reads.push(store.getMany<string>(['hot'])), r())));
      await new Promise<void>((r) => process.nextTick(() => (reads.push(store.getMany<string>(['nope', 'hot'])), r())));
      expect(await Promise.all(reads)).toEqual([['h', 'x'], ['h'], [undefined, 'h']]);
      const seen = await tap.waitFor(topology === 'cluster' ? 3 : 1);
      if (topology === 'cluster') expect(seen.map((c) => c[0]!.toLowerCase()).sort()).toEqual(['get', 'get', 'get']);
      else expect(seen).toEqual([['mget', `${ns}:hot`, `${ns}:x`, `${ns}:nope`]]);
      expect(store.counters).toMatchObject({ hits: 4, misses: 1 });
    } finally {
      await tap.close();
    }
  });

  it('has, hasMany, delete, deleteMany, and Keyv batches of them', async () => {
    const ns = randomPrefix('del').slice(0, -1);
    const keyv = createKeyv<string>({ registry, connection: 'cache', namespace: ns });
    await keyv.setMany([
      { key: 'a', value: '1', ttl: 10_000 },
      { key: 'b', value: '2', ttl: 10_000 },
      { key: 'c', value: '3', ttl: 10_000 },
    ]);
    expect(await keyv.has('a')).toBe(true);
    expect(await keyv.has(['a', 'b', 'nope'])).toEqual([true, true, false]);
    expect(await keyv.delete('a')).toBe(true);
    expect(await keyv.delete('a')).toBe(false);
    expect(await keyv.delete(['b', 'c', 'nope'])).toBe(true);
    expect(await keyv.get(['a', 'b', 'c'])).toEqual([undefined, undefined, undefined]);
    const store = keyv.store as ReturnType<typeof createKeyvStore>;
    expect(store.counters).toMatchObject({ hits: 0, misses: 3, readErrors: 0, writes: 3, writeErrors: 0 });
  });

  it('clear() removes only its namespace, across every master; without a namespace it refuses', async () => {
    const ns = randomPrefix('clr').slice(0, -1);
    const keyv = createKeyv({ registry, connection: 'cache', namespace: ns });
    await Promise.all(Array.from({ length: 40 }, (_, i) => keyv.set(`k${i}`, i, 10_000)));
    const bystander = `${ns}-bystander`;
    await client().set(bystander, '1', 'PX', 10_000);
    await keyv.clear();
    expect(await keyv.get(Array.from({ length: 40 }, (_, i) => `k${i}`))).toEqual(Array.from({ length: 40 }, () => undefined));
    expect(await client().exists(bystander)).toBe(1);
    await expect(createKeyvStore({ registry, connection: 'cache' }).clear()).rejects.toThrow(/no namespace.*every key/);
  });
});

describe('options', () => {
  it('bad options stop at creation, each named with what is expected', () => {
    let err: unknown;
    try {
      createKeyvStore({ connection: '', maxTtl: 0, requestTimeout: 1.5, namespace: 7 as unknown as string });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RedisConfigError);
    const paths = (err as RedisConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(['createKeyvStore().connection', 'createKeyvStore().requestTimeout', 'createKeyvStore().namespace', 'createKeyvStore().maxTtl']);
    expect(() => createKeyv({ ttl: -1 })).toThrow(/createKeyv\(\)\.ttl: got -1 \(number\); expected a positive integer/);
  });
});
