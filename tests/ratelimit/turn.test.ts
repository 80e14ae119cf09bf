/**
 * Hits on many keys in one event-loop turn (issue #20 item 1): they reach Redis as one socket write
 * per node, and every hit still gets its own exact count. Socket writes are counted on the client's
 * real sockets (standalone: its one stream; Cluster: each master's).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import { createRedisRegistry, RedisRateLimitStore, type RedisRegistry } from '../../src/index.js';
import { RateLimitUnavailableError } from '../../src/middlewares/rate-limit/errors.js';
import { parseInfo, randomPrefix, redisCommand, startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';

const redis = inject('redis');
let server: ServerHandle;
let standalone: RedisRegistry;
let cluster: RedisRegistry;

beforeAll(async () => {
  server = await startStandalone();
  standalone = createRedisRegistry({ connections: { default: { connection: { host: server.host, port: server.port } } } }, { logger: captureLogger() });
  cluster = createRedisRegistry({ connections: { default: { connection: { nodes: redis.cluster.nodes } } } }, { logger: captureLogger() });
  await Promise.all([standalone.waitUntilReady(), cluster.waitUntilReady()]);
});
afterAll(async () => {
  await standalone?.close();
  await cluster?.close();
  await server?.stop();
});

/** The sockets a client writes commands to. */
function socketsOf(registry: RedisRegistry): Array<{ write: (...args: unknown[]) => boolean }> {
  const client = registry.client('default');
  const nodes = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  return nodes.map((n) => (n as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream);
}

/** Socket writes made while `work` runs. */
async function countWrites<T>(registry: RedisRegistry, work: () => Promise<T>): Promise<{ writes: number; result: T }> {
  const sockets = socketsOf(registry);
  let writes = 0;
  const originals = sockets.map((s) => s.write);
  sockets.forEach((s, i) => {
    s.write = (...args: unknown[]) => {
      writes++;
      return originals[i]!.apply(s, args);
    };
  });
  try {
    const result = await work();
    return { writes, result };
  } finally {
    sockets.forEach((s, i) => (s.write = originals[i]!));
  }
}

describe.each([
  ['standalone', () => standalone, 1],
  ['cluster', () => cluster, 3],
] as const)('hits of one turn on %s', (_name, registryOf, masters) => {
  it('200 hits on 200 keys: one socket write per node, each count exact', async () => {
    const registry = registryOf();
    const store = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlt'), logger: captureLogger() });
    await store.incr('warm', { interval: 60_000 }, 1); // the script is defined and loaded on every node it reaches
    for (let i = 0; i < 40; i++) await store.incr(`warm-${i}`, { interval: 60_000 }, 1);
    const { writes, result } = await countWrites(registry, () =>
      Promise.all(Array.from({ length: 200 }, (_, i) => store.incr(`k${i}`, { interval: 60_000 }, 1))),
    );
    expect(result.map((h) => h.counter)).toEqual(Array.from({ length: 200 }, () => 1));
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(masters);
    const client = registry.client('default');
    const stored = await Promise.all(Array.from({ length: 200 }, (_, i) => client.get(`${store.keyPrefix}k${i}`)));
    expect(stored).toEqual(Array.from({ length: 200 }, () => '1'));
  });

  it('300 hits over 30 keys in one turn: each key counts 1..10, handed out once, in one write per node', async () => {
    const registry = registryOf();
    const store = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlt'), logger: captureLogger() });
    for (let i = 0; i < 40; i++) await store.incr(`warm-${i}`, { interval: 60_000 }, 1);
    const keys = Array.from({ length: 300 }, (_, i) => `k${i % 30}`);
    const { result } = await countWrites(registry, () => Promise.all(keys.map((k) => store.incr(k, { interval: 60_000 }, 1))));
    const byKey = new Map<string, number[]>();
    result.forEach((h, i) => byKey.set(keys[i]!, [...(byKey.get(keys[i]!) ?? []), h.counter]));
    for (const counts of byKey.values()) expect([...counts].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const client = registry.client('default');
    for (let k = 0; k < 30; k++) expect(await client.get(`${store.keyPrefix}k${k}`)).toBe('10');
  });

  it('coalesce: false, 50 hits on one key in one turn: one write, 50 distinct counts', async () => {
    const registry = registryOf();
    const store = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlt'), logger: captureLogger(), coalesce: false });
    await store.incr('one', { interval: 60_000 }, 0);
    const { writes, result } = await countWrites(registry, () => Promise.all(Array.from({ length: 50 }, () => store.incr('one', { interval: 60_000 }, 1))));
    expect(writes).toBe(1);
    expect(result.map((h) => h.counter).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });
});

describe('hits of one turn on one server (standalone, Sentinel): one script call', () => {
  /** Script calls (EVALSHA and EVAL) this file's own server has run so far. */
  const scriptCalls = async (): Promise<number> => {
    const stats = parseInfo(await redisCommand(server, ['INFO', 'commandstats']));
    const calls = (name: string) => Number(/calls=(\d+)/.exec(stats[`cmdstat_${name}`] ?? '')?.[1] ?? 0);
    return calls('evalsha') + calls('eval');
  };

  it('200 hits on 200 keys are one EVALSHA, and each count is exact', async () => {
    const store = new RedisRateLimitStore({ registry: standalone, keyPrefix: randomPrefix('rlt'), logger: captureLogger() });
    await Promise.all([store.incr('warm-a', { interval: 60_000 }, 1), store.incr('warm-b', { interval: 60_000 }, 1)]); // the many-key script is loaded
    const before = await scriptCalls();
    const result = await Promise.all(Array.from({ length: 200 }, (_, i) => store.incr(`k${i}`, { interval: 60_000 }, i % 3)));
    expect(await scriptCalls()).toBe(before + 1);
    expect(result.map((h) => h.counter)).toEqual(Array.from({ length: 200 }, (_, i) => i % 3));
    const client = standalone.client('default');
    expect(await client.pttl(`${store.keyPrefix}k7`)).toBeGreaterThan(59_000);
    expect(await client.get(`${store.keyPrefix}k8`)).toBe('2');
  });

  it('600 hits: one call per 512 keys', async () => {
    const store = new RedisRateLimitStore({ registry: standalone, keyPrefix: randomPrefix('rlt'), logger: captureLogger() });
    await Promise.all([store.incr('warm-a', { interval: 60_000 }, 1), store.incr('warm-b', { interval: 60_000 }, 1)]);
    const before = await scriptCalls();
    const result = await Promise.all(Array.from({ length: 600 }, (_, i) => store.incr(`k${i}`, { interval: 60_000 }, 1)));
    expect(await scriptCalls()).toBe(before + 2);
    expect(result.every((h) => h.counter === 1)).toBe(true);
  });

  it('a key of another type fails only its own hit', async () => {
    const store = new RedisRateLimitStore({ registry: standalone, keyPrefix: randomPrefix('rlt'), logger: captureLogger(), failOpen: false });
    const client = standalone.client('default');
    await client.hset(`${store.keyPrefix}bad`, 'f', 'v');
    const settled = await Promise.allSettled(['a', 'bad', 'b'].map((k) => store.incr(k, { interval: 60_000 }, 1)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const reason = (settled[1] as PromiseRejectedResult).reason as RateLimitUnavailableError;
    expect(reason).toBeInstanceOf(RateLimitUnavailableError);
    expect(String((reason.cause as Error).message)).toMatch(/WRONGTYPE/);
    expect(await client.get(`${store.keyPrefix}a`)).toBe('1');
    expect(await client.get(`${store.keyPrefix}b`)).toBe('1');
    expect(await client.hget(`${store.keyPrefix}bad`, 'f')).toBe('v');
  });
});
