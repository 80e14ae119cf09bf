/**
 * Redis failing under the limiter: a server of our own, killed (SIGKILL) and hung (SIGSTOP).
 * Requests never hang, fail open by default with one warning per outage, or answer 503 when
 * failing closed; counting resumes when Redis is back.
 */
import { featureCounters } from '../../src/counters.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRedisRegistry, RedisUnavailableError, type RedisRegistry } from '../../src/index.js';
import Koa from 'koa';
import { createStrapiRateLimit, RateLimitUnavailableError, RedisRateLimitStore } from '../../src/middlewares/rate-limit/index.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger, type CapturedLogger } from '../helpers/logger.js';
import { limitedApp, request, until } from './helpers.js';
import { resolveRateLimitOptions } from '../../src/middlewares/rate-limit/options.js';
import { limiterMemory } from '../../src/middlewares/rate-limit/middleware.js';

const REQUEST_TIMEOUT = 300;
let server: ServerHandle;
let registry: RedisRegistry;
let registryLog: CapturedLogger;

beforeAll(async () => {
  server = await startStandalone();
  registryLog = captureLogger();
  registry = createRedisRegistry(
    { connections: { default: { connection: { host: server.host, port: server.port }, requestTimeout: REQUEST_TIMEOUT } } },
    { logger: registryLog },
  );
  await registry.waitUntilReady();
});
afterAll(async () => {
  await registry?.close();
  await server?.stop();
});
beforeEach(async () => {
  if (!server.isAlive()) await server.restart();
  await until(() => registry.get('default').isReady, 15_000, 'the connection to be ready');
  // Outages are tracked per connection across limiters: end the previous test's, away from this test's logger.
  await new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlf'), logger: captureLogger() }).incr('flush', { interval: 1000 }, 1);
});

const timed = async <T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> => {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
};

const limiterLines = (log: CapturedLogger, level: 'warn' | 'info') => log.of(level).filter((l) => l.includes('rate limit on connection'));

describe('Redis killed', () => {
  it('fail open (default): requests pass at once, one warning for the outage, one info line when it is back', async () => {
    const log = captureLogger();
    const agent = request(limitedApp({ registry, keyPrefix: randomPrefix('rlf'), max: 3, logger: log }).callback());
    for (let i = 0; i < 3; i++) await agent.get('/').expect(200);
    await agent.get('/').expect(429);

    const before = featureCounters(registry).rateLimit!;
    await server.kill('SIGKILL');
    await until(() => !registry.get('default').isReady, 5000, 'the client to notice');
    for (let i = 0; i < 20; i++) {
      const { value: res, ms } = await timed(() => agent.get('/'));
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined(); // nothing was counted
      expect(ms).toBeLessThan(REQUEST_TIMEOUT); // refused at once: nothing waits in the offline queue
    }
    expect(limiterLines(log, 'warn')).toHaveLength(1);
    expect(limiterLines(log, 'warn')[0]).toMatch(/rate limit on connection "default" cannot count requests in Redis: .*not ready.*failing open/);
    const after = featureCounters(registry).rateLimit!;
    // counters are per registry: this file's limiters only, and only this agent ran meanwhile
    expect(after.failedOpen - before.failedOpen).toBe(20);
    expect(after.storeErrors - before.storeErrors).toBe(20);

    await server.restart();
    await until(() => registry.get('default').isReady, 15_000, 'reconnect');
    await agent.get('/').expect(200); // a fresh server: a fresh count
    expect(limiterLines(log, 'info')).toHaveLength(1);
    expect(limiterLines(log, 'info')[0]).toMatch(/counts in Redis again after \d+ ms; 20 requests passed unchecked meanwhile/);
    expect(limiterLines(log, 'warn')).toHaveLength(1);
  });

  it('fail closed: 503 at once, in the plain body; one warning', async () => {
    const log = captureLogger();
    const agent = request(limitedApp({ registry, keyPrefix: randomPrefix('rlf'), max: 3, failOpen: false, logger: log }).callback());
    await agent.get('/').expect(200);
    await server.kill('SIGKILL');
    await until(() => !registry.get('default').isReady, 5000, 'the client to notice');
    for (let i = 0; i < 5; i++) {
      const { value: res, ms } = await timed(() => agent.get('/'));
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ message: 'Rate limiting is unavailable, please try again later.' });
      expect(ms).toBeLessThan(REQUEST_TIMEOUT);
    }
    expect(limiterLines(log, 'warn')).toHaveLength(1);
    expect(limiterLines(log, 'warn')[0]).toMatch(/failing closed: requests are refused with 503/);
  });

  it("onError: 'memory': while Redis is down each instance limits in memory (same max and window); Redis again after the restart", async () => {
    const log = captureLogger();
    const agent = request(limitedApp({ registry, keyPrefix: randomPrefix('rlm'), max: 3, interval: 60_000, onError: 'memory', logger: log }).callback());
    await agent.get('/').expect(200);
    await server.kill('SIGKILL');
    await until(() => !registry.get('default').isReady, 5000, 'the client to notice');
    const before = featureCounters(registry).rateLimit!;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { value: res, ms } = await timed(() => agent.get('/'));
      statuses.push(res.status);
      expect(ms).toBeLessThan(REQUEST_TIMEOUT);
      expect(res.headers['ratelimit-limit']).toBe('3');
    }
    // the memory window starts empty at the outage: 3 pass, then 429
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(featureCounters(registry).rateLimit!.limitedInMemory - before.limitedInMemory).toBe(5);
    expect(limiterLines(log, 'warn')).toHaveLength(1);
    expect(limiterLines(log, 'warn')[0]).toMatch(/limiting in this process' memory/);
    await server.restart();
    await until(() => registry.get('default').isReady, 15_000, 'reconnect');
    const res = await agent.get('/').expect(200); // a fresh server: counted in Redis from 1
    expect(res.headers['ratelimit-remaining']).toBe('2');
    expect(limiterLines(log, 'info')[0]).toMatch(/counts in Redis again after \d+ ms; 5 requests were limited in memory meanwhile/);
  });

  it("onError: 'memory': the in-process counts are dropped once Redis answers again; the next outage starts from an empty window", async () => {
    const log = captureLogger();
    const mw = createStrapiRateLimit(
      { keyPrefix: randomPrefix('rlm'), max: 3, interval: 60_000, onError: 'memory', logger: log },
      { strapi: { log, plugin: (name: string) => (name === 'redis' ? { service: () => registry } : undefined) } },
    );
    const app = new Koa();
    app.use(mw as Koa.Middleware);
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const agent = request(app.callback());
    const outage = async (): Promise<number[]> => {
      await server.kill('SIGKILL');
      await until(() => !registry.get('default').isReady, 5000, 'the client to notice');
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await agent.get('/')).status);
      return statuses;
    };
    expect(await outage()).toEqual([200, 200, 200, 429]);
    expect(limiterMemory(mw).fallback).toBe(1);
    await server.restart();
    await until(() => registry.get('default').isReady, 15_000, 'reconnect');
    await agent.get('/').expect(200).expect('ratelimit-remaining', '2'); // counted in Redis
    expect(limiterMemory(mw).fallback).toBe(0);
    // well within the first outage's 60 s memory window: a fresh one, not its leftover count
    expect(await outage()).toEqual([200, 200, 200, 429]);
  });

  it("onError: 'deny' is failOpen: false, 'allow' is failOpen: true", () => {
    expect(resolveRateLimitOptions({ onError: 'deny' }, 'x', 'config')).toMatchObject({ failOpen: false, onError: 'deny' });
    expect(resolveRateLimitOptions({ onError: 'allow' }, 'x', 'config')).toMatchObject({ failOpen: true, onError: 'allow' });
    expect(resolveRateLimitOptions({ failOpen: false }, 'x', 'config')).toMatchObject({ failOpen: false, onError: 'deny' });
    expect(resolveRateLimitOptions({}, 'x', 'config')).toMatchObject({ failOpen: true, onError: 'allow' });
  });

  it('onError and failOpen together are a config error naming both', () => {
    expect(() => limitedApp({ registry, onError: 'deny', failOpen: false })).toThrow(/failOpen.*onError/s);
    expect(() => limitedApp({ registry, onError: 'sometimes' as never })).toThrow(/onError.*"allow", "deny" or "memory"/s);
  });

  it("fail closed inside Strapi: 503 in Strapi's error format", async () => {
    const strapi = { log: captureLogger(), plugin: (name: string) => (name === 'redis' ? { service: () => registry } : undefined) };
    const app = new Koa();
    app.use(createStrapiRateLimit({ keyPrefix: randomPrefix('rlf'), failOpen: false }, { strapi }));
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const agent = request(app.callback());
    await agent.get('/').expect(200);
    await server.kill('SIGKILL');
    await until(() => !registry.get('default').isReady, 5000, 'the client to notice');
    const res = await agent.get('/').expect(503);
    expect(res.body).toEqual({
      data: null,
      error: { status: 503, name: 'ServiceUnavailableError', message: 'Rate limiting is unavailable, please try again later.', details: {} },
    });
  });

  it('the store: fail open counts nothing and lets Strapi go on; fail closed throws a 503 error; decrement never rejects', async () => {
    const log = captureLogger();
    const open = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlf'), logger: log });
    const closed = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlf'), failOpen: false, logger: log });
    expect((await open.incr('k', { interval: 5000 }, 1)).counter).toBe(1);
    await server.kill('SIGKILL');
    await until(() => !registry.get('default').isReady, 5000, 'the client to notice');
    const hit = await open.incr('k', { interval: 5000 }, 1);
    expect(hit.counter).toBe(0);
    expect(hit.dateEnd).toBeGreaterThan(Date.now());
    const err = await closed.incr('k', { interval: 5000 }, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitUnavailableError);
    expect(err).toMatchObject({ status: 503, code: 'REDIS_SUITE_RATE_LIMIT_UNAVAILABLE' });
    expect((err as Error).cause).toBeInstanceOf(RedisUnavailableError);
    await expect(open.decrement('k', { interval: 5000 }, 1)).resolves.toBeUndefined();
    expect(log.of('warn').filter((l) => l.includes('failing open'))).toHaveLength(1);
    expect(log.of('warn').filter((l) => l.includes('failing closed'))).toHaveLength(1);
  });
});

describe('the store after an outage', () => {
  it('a request that failed open (nothing counted) takes nothing back from the count after Redis is back', async () => {
    const store = new RedisRateLimitStore({ registry, keyPrefix: randomPrefix('rlf'), logger: captureLogger() });
    const client = registry.client('default');
    await server.kill('SIGKILL');
    await until(() => !registry.get('default').isReady, 5000, 'the client to notice');
    const during = { interval: 60_000 }; // the request that arrives during the outage (Strapi: one RateLimit per request)
    expect((await store.incr('k', during, 1)).counter).toBe(0);
    await server.restart();
    await until(() => registry.get('default').isReady, 15_000, 'reconnect');
    expect((await store.incr('k', { interval: 60_000 }, 1)).counter).toBe(1); // another request, counted
    await store.decrement('k', during, 1); // the first one ends with a failure
    expect(await client.get(`${store.keyPrefix}k`)).toBe('1');
  });
});

describe('Redis hung (SIGSTOP): the socket is open, nothing answers', () => {
  it('each request waits at most requestTimeout, then fails open', async () => {
    const log = captureLogger();
    const agent = request(limitedApp({ registry, keyPrefix: randomPrefix('rlf'), max: 3, logger: log }).callback());
    await agent.get('/').expect(200);
    server.pause();
    try {
      const results = await Promise.all(Array.from({ length: 5 }, () => timed(() => agent.get('/'))));
      for (const { value: res, ms } of results) {
        expect(res.status).toBe(200);
        expect(ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT - 20);
        expect(ms).toBeLessThan(REQUEST_TIMEOUT + 1500); // generous slack for a loaded 2-core machine
      }
      expect(limiterLines(log, 'warn')).toHaveLength(1);
      expect(limiterLines(log, 'warn')[0]).toMatch(/did not answer within 300 ms/);
    } finally {
      server.resume();
    }
    await until(async () => (await agent.get('/')).headers['ratelimit-limit'] === '3', 10_000, 'counting again');
    expect(limiterLines(log, 'info')).toHaveLength(1);
  });

  it('per-limiter requestTimeout overrides the connection bound', async () => {
    const agent = request(limitedApp({ registry, keyPrefix: randomPrefix('rlf'), max: 3, requestTimeout: 100, logger: captureLogger() }).callback());
    await agent.get('/').expect(200);
    server.pause();
    try {
      const { value: res, ms } = await timed(() => agent.get('/'));
      expect(res.status).toBe(200);
      expect(ms).toBeLessThan(REQUEST_TIMEOUT);
    } finally {
      server.resume();
    }
  });
});
