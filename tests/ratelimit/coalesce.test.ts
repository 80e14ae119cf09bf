/**
 * Coalesced hits (the default) and the opt-in in-memory block, on a server of our own so the
 * script calls can be counted exactly with INFO commandstats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedisRegistry, RedisRateLimitStore, type RedisRegistry } from '../../src/index.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { counterOf, ipKey, limitedApp, request, until } from './helpers.js';

const REQUEST_TIMEOUT = 300;
let server: ServerHandle;
let registry: RedisRegistry;
let client: Redis;

beforeAll(async () => {
  server = await startStandalone();
  registry = createRedisRegistry(
    { connections: { default: { connection: { host: server.host, port: server.port }, requestTimeout: REQUEST_TIMEOUT } } },
    { logger: captureLogger() },
  );
  await registry.waitUntilReady();
  client = registry.client('default') as Redis;
});
afterAll(async () => {
  await registry?.close();
  await server?.stop();
});

/** EVAL + EVALSHA calls the server has answered so far (this file's server: nothing else uses it). */
async function scriptCalls(): Promise<number> {
  const stats = await client.info('commandstats');
  let calls = 0;
  for (const m of stats.matchAll(/^cmdstat_(eval|evalsha):calls=(\d+)/gm)) calls += Number(m[2]);
  return calls;
}

describe('coalesced hits', () => {
  it('200 concurrent hits on one key in one turn: one increment of 200, yet every count 1..200 handed out once', async () => {
    const store = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlc'), logger: captureLogger() });
    await store.incr('warm', { interval: 60_000 }, 1); // the script is loaded
    const before = await scriptCalls();
    const hits = await Promise.all(Array.from({ length: 200 }, () => store.incr('one-key', { interval: 60_000 }, 1)));
    expect((await scriptCalls()) - before).toBe(1);
    expect(hits.map((h) => h.counter)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(await client.get(`${store.keyPrefix}one-key`)).toBe('200');
  });

  it('hits on one key in 10 successive turns: 10 calls, none held back behind the one in flight, every count 1..200 once', async () => {
    const store = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlc'), logger: captureLogger() });
    await store.incr('warm', { interval: 60_000 }, 1);
    const before = await scriptCalls();
    const pending: Array<Promise<{ counter: number }>> = [];
    for (let turn = 0; turn < 10; turn++) {
      for (let i = 0; i < 20; i++) pending.push(store.incr('turns', { interval: 60_000 }, 1));
      await new Promise((r) => setImmediate(r)); // the next turn: this one's call is sent, its reply not yet read
    }
    const hits = await Promise.all(pending);
    expect((await scriptCalls()) - before).toBe(10);
    // applied in the order sent (one link): each turn's hits hold the next 20 counts
    expect(hits.map((h) => h.counter)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it("coalesce: false counts each hit on its own: 50 increments of 1 (in the turn's one many-key script call), 50 distinct counts", async () => {
    const store = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlc'), logger: captureLogger(), coalesce: false });
    await Promise.all([store.incr('warm', { interval: 60_000 }, 1), store.incr('warm', { interval: 60_000 }, 1)]); // both scripts are loaded
    const before = await scriptCalls();
    const hits = await Promise.all(Array.from({ length: 50 }, () => store.incr('one-key', { interval: 60_000 }, 1)));
    expect((await scriptCalls()) - before).toBe(1);
    expect(hits.map((h) => h.counter)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('weights: each hit gets the running sum in arrival order, the key holds the total', async () => {
    const store = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlc'), logger: captureLogger() });
    const weights = [1, 3, 0, 2, 5, 1, 0, 4];
    const hits = await Promise.all(weights.map((w) => store.incr('weighted', { interval: 60_000 }, w)));
    let sum = 0;
    const expected = weights.map((w) => (sum += w));
    expect(hits.map((h) => h.counter)).toEqual(expected);
    expect(await client.get(`${store.keyPrefix}weighted`)).toBe(String(sum));
    // one window for all: the same reset time (within the few ms between the calls)
    const ends = hits.map((h) => h.dateEnd);
    expect(Math.max(...ends) - Math.min(...ends)).toBeLessThan(1000);
  });

  it('different keys are not merged', async () => {
    const store = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlc'), logger: captureLogger() });
    const hits = await Promise.all(Array.from({ length: 30 }, (_, i) => store.incr(`k${i % 3}`, { interval: 60_000 }, 1)));
    for (const k of ['k0', 'k1', 'k2']) expect(await client.get(`${store.keyPrefix}${k}`)).toBe('10');
    expect(hits.map((h) => h.counter).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => Math.floor(i / 3) + 1));
  });

  it('Redis hung (SIGSTOP): hits of successive turns on one key all fail within about one bound', async () => {
    const store = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlc'), logger: captureLogger(), failOpen: false });
    await store.incr('hung', { interval: 60_000 }, 1);
    server.pause();
    try {
      const t0 = performance.now();
      const pending: Array<Promise<unknown>> = [];
      for (let turn = 0; turn < 4; turn++) {
        for (let i = 0; i < 10; i++) pending.push(store.incr('hung', { interval: 60_000 }, 1));
        await new Promise((r) => setImmediate(r));
      }
      const settled = await Promise.allSettled(pending);
      const ms = performance.now() - t0;
      expect(settled.every((s) => s.status === 'rejected')).toBe(true);
      expect(ms).toBeLessThan(REQUEST_TIMEOUT + 1000); // not one bound per turn's call
    } finally {
      server.resume();
    }
    await until(async () => (await store.incr('hung', { interval: 60_000 }, 1).catch(() => null)) !== null, 10_000, 'counting again');
  });
});

describe('inMemoryBlock', () => {
  it('after a 429, the key is refused from memory until its window resets: no script call, same headers', async () => {
    const keyPrefix = randomPrefix('rlb');
    const agent = request(limitedApp({ registry, keyPrefix, max: 2, interval: 1500, inMemoryBlock: true }).callback());
    await agent.get('/').expect(200);
    await agent.get('/').expect(200);
    const first = await agent.get('/').expect(429);
    expect(first.headers['retry-after']).toBe('2');
    const before = await scriptCalls();
    for (let i = 0; i < 5; i++) {
      const res = await agent.get('/').expect(429);
      expect(res.headers['ratelimit-remaining']).toBe('0');
      expect(res.headers['ratelimit-limit']).toBe('2');
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(2);
    }
    expect((await scriptCalls()) - before).toBe(0);
    expect((await counterOf(client, ipKey(keyPrefix))).value).toBe('3');
    // the window resets (Redis expires the key): counted again
    await until(async () => (await client.exists(ipKey(keyPrefix))) === 0, 5000, 'the window to end');
    await until(async () => (await agent.get('/')).status === 200, 2000, 'the block to lift');
    expect((await counterOf(client, ipKey(keyPrefix))).value).toBe('1');
  });

  it('off by default: every request over the limit is counted in Redis', async () => {
    const keyPrefix = randomPrefix('rlb');
    const agent = request(limitedApp({ registry, keyPrefix, max: 2, interval: 60_000 }).callback());
    for (let i = 0; i < 2; i++) await agent.get('/').expect(200);
    const before = await scriptCalls();
    for (let i = 0; i < 5; i++) await agent.get('/').expect(429);
    expect((await scriptCalls()) - before).toBe(5);
    expect((await counterOf(client, ipKey(keyPrefix))).value).toBe('7');
  });
});
