/**
 * `rateLimit()` on a real Redis (the harness' shared standalone server), through real Koa and supertest.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { createStrapiRateLimit, rateLimit } from '../../src/middlewares/rate-limit/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import Koa from 'koa';
import { counterOf, ipKey, limitedApp, request, until } from './helpers.js';

const redis = inject('redis');
let registry: RedisRegistry;
let client: Redis;

beforeAll(async () => {
  registry = createRedisRegistry({ connections: { default: { connection: redis.standalone.url } } }, { logger: captureLogger() });
  await registry.waitUntilReady();
  client = registry.client('default') as Redis;
});
afterAll(async () => {
  await registry?.close();
});

describe('counting', () => {
  it('50 concurrent requests on a fresh key are counted exactly, each with its own count', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 1000, interval: 60_000 }).callback());
    const responses = await Promise.all(Array.from({ length: 50 }, () => agent.get('/')));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    // one atomic INCR per request: the 50 answers saw 50 distinct counts, 1..50
    const remaining = responses.map((r) => Number(r.headers['ratelimit-remaining'])).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: 50 }, (_, i) => 950 + i));
    expect(await counterOf(client, ipKey(keyPrefix))).toMatchObject({ value: '50' });
  });

  it('exactly max requests pass out of 50 concurrent ones', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 20, interval: 60_000 }).callback());
    const statuses = (await Promise.all(Array.from({ length: 50 }, () => agent.get('/')))).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);
  });

  it('every hit leaves a TTL (> 0, <= interval); a key left without TTL gets one and stays an integer', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 100, interval: 5000 }).callback());
    const key = ipKey(keyPrefix);
    for (let i = 1; i <= 5; i++) {
      await agent.get('/').expect(200);
      const { value, pttl } = await counterOf(client, key);
      expect(value).toBe(String(i));
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(5000);
    }
    // koa2-ratelimit's RedisStore turned "3" (no TTL) + 1 into "31"
    await client.set(key, '3');
    expect(await client.pttl(key)).toBe(-1);
    await agent.get('/').expect(200);
    const after = await counterOf(client, key);
    expect(after.value).toBe('4');
    expect(after.pttl).toBeGreaterThan(0);
    expect(after.pttl).toBeLessThanOrEqual(5000);
  });

  it('the window resets: limited, then allowed again once the interval passed (polled, short interval)', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 2, interval: 600 }).callback());
    await agent.get('/').expect(200);
    const started = Date.now();
    await agent.get('/').expect(200);
    await agent.get('/').expect(429);
    await until(async () => (await agent.get('/')).status === 200, 3000, 'a new window');
    // not before the first window could have ended
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });
});

describe('headers and responses', () => {
  it('RateLimit-* on every counted response, Retry-After on 429, reset in the future and within the interval', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 2, interval: 30_000 }).callback());
    const first = await agent.get('/').expect(200);
    expect(first.headers).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '1', 'ratelimit-policy': '2;w=30' });
    const reset = Number(first.headers['ratelimit-reset']);
    expect(reset).toBeGreaterThanOrEqual(29);
    expect(reset).toBeLessThanOrEqual(30);
    expect(first.headers['retry-after']).toBeUndefined();
    expect(first.headers['x-ratelimit-limit']).toBeUndefined(); // legacy headers are opt-in
    // ctx.state.rateLimit, koa2-ratelimit's shape (reset in epoch seconds) plus resetMs
    const state = first.body.rateLimit;
    expect(state).toMatchObject({ limit: 2, current: 1, remaining: 1, key: ipKey(keyPrefix) });
    expect(state.reset).toBeGreaterThan(Date.now() / 1000);
    expect(state.reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 30);
    expect(state.resetMs).toBeGreaterThan(29_000);
    expect(state.resetMs).toBeLessThanOrEqual(30_000);

    await agent.get('/').expect(200).expect('ratelimit-remaining', '0');
    const limited = await agent.get('/').expect(429);
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    expect(Number(limited.headers['retry-after'])).toBe(Number(limited.headers['ratelimit-reset']));
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(30);
    expect(limited.body).toEqual({ message: 'Too many requests, please try again later.' });
  });

  it('legacy X-RateLimit-* on request, with the reset as epoch seconds (not 1)', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 5, interval: { min: 1 }, legacyHeaders: true }).callback());
    const res = await agent.get('/').expect(200);
    expect(res.headers).toMatchObject({ 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '4' });
    const reset = Number(res.headers['x-ratelimit-reset']);
    expect(reset).toBeGreaterThan(Date.now() / 1000 + 55);
    expect(reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 60);
  });

  it('headers: false sends none; statusCode, message and messageKey shape the answer', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 1, headers: false, statusCode: 503, message: 'slow down', messageKey: 'error' }).callback());
    const ok = await agent.get('/').expect(200);
    expect(ok.headers['ratelimit-limit']).toBeUndefined();
    const limited = await agent.get('/').expect(503);
    expect(limited.body).toEqual({ error: 'slow down' });
    expect(limited.headers['retry-after']).toBeUndefined();
  });

  it('handler and onLimitReached get the context and the numbers', async () => {
    const keyPrefix = randomPrefix('rl');
    const seen: unknown[] = [];
    const agent = request(
      limitedApp({
        registry,
        keyPrefix,
        max: 1,
        onLimitReached: (_ctx, info) => void seen.push(info.current),
        handler: (ctx, info) => {
          ctx.status = 429;
          ctx.body = `custom ${info.current}/${info.limit}`;
        },
      }).callback(),
    );
    await agent.get('/').expect(200);
    const res = await agent.get('/').expect(429);
    expect(res.text).toBe('custom 2/1');
    expect(res.headers['retry-after']).toBeDefined();
    await agent.get('/').expect(429);
    expect(seen).toEqual([2, 3]);
  });

  it("inside Strapi the 429 body is Strapi's error format (RateLimitError)", async () => {
    const keyPrefix = randomPrefix('rl');
    const strapi = { log: captureLogger(), plugin: (name: string) => (name === 'redis' ? { service: () => registry } : undefined) };
    const app = new Koa();
    app.use(createStrapiRateLimit({ connection: 'default', keyPrefix, max: 1 }, { strapi }) as Koa.Middleware);
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const agent = request(app.callback());
    await agent.get('/').expect(200);
    const res = await agent.get('/').expect(429);
    expect(res.body).toEqual({
      data: null,
      error: { status: 429, name: 'RateLimitError', message: 'Too many requests, please try again later.', details: {} },
    });
  });

  it('enabled: false passes everything and counts nothing', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 1, enabled: false }).callback());
    for (let i = 0; i < 3; i++) await agent.get('/').expect(200);
    expect(await client.exists(ipKey(keyPrefix))).toBe(0);
  });
});

describe('which requests count, and in which bucket', () => {
  it('whitelist: a listed IP is never counted', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 1, whitelist: ['127.0.0.1'] }).callback());
    for (let i = 0; i < 3; i++) await agent.get('/').expect(200);
    expect(await client.exists(ipKey(keyPrefix))).toBe(0);
  });

  it('skip: skipped requests pass uncounted', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 1, skip: (ctx) => ctx.path === '/health' }).callback());
    for (let i = 0; i < 3; i++) await agent.get('/health').expect(200);
    await agent.get('/').expect(200);
    await agent.get('/').expect(429);
    expect((await counterOf(client, ipKey(keyPrefix))).value).toBe('2');
  });

  it('keyGenerator: its result is the bucket (and can be whitelisted)', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(
      limitedApp({ registry, keyPrefix, max: 1, keyGenerator: (ctx) => `tenant-${ctx.path.split('/')[1]}`, whitelist: ['tenant-vip'] }).callback(),
    );
    await agent.get('/a').expect(200);
    await agent.get('/a').expect(429);
    await agent.get('/b').expect(200);
    for (let i = 0; i < 3; i++) await agent.get('/vip').expect(200);
    expect((await counterOf(client, `${keyPrefix}global:tenant-a`)).value).toBe('2');
    expect(await client.exists(`${keyPrefix}global:tenant-vip`)).toBe(0);
  });

  it('weight: a request counts its weight', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 10, weight: (ctx) => (ctx.path === '/heavy' ? 3 : 1) }).callback());
    for (let i = 0; i < 3; i++) await agent.get('/heavy').expect(200); // 9
    await agent.get('/').expect(200).expect('ratelimit-remaining', '0'); // 10
    await agent.get('/heavy').expect(429); // 13
    expect((await counterOf(client, ipKey(keyPrefix))).value).toBe('13');
  });

  it('skipFailedRequests: requests ending >= 400 or throwing are taken back, successes stay', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 3, skipFailedRequests: true }).callback());
    const key = ipKey(keyPrefix);
    await agent.get('/').expect(200);
    for (let i = 0; i < 5; i++) await agent.get('/status/400').expect(400);
    await agent.get('/throw').expect(500);
    await until(async () => (await client.get(key)) === '1', 3000, 'failed requests taken back');
    await agent.get('/').expect(200);
    await agent.get('/').expect(200);
    await agent.get('/').expect(429);
    expect((await counterOf(client, key)).pttl).toBeGreaterThan(0);
  });

  it('a failed request that ends after its window never takes a hit from the newer window', async () => {
    const keyPrefix = randomPrefix('rl');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const app = new Koa();
    app.silent = true;
    app.use(rateLimit({ registry, keyPrefix, max: 10, interval: 300, skipFailedRequests: true }));
    app.use(async (ctx) => {
      if (ctx.path === '/slow-fail') {
        await gate;
        ctx.status = 500;
        return;
      }
      ctx.body = 'ok';
    });
    const agent = request(app.callback());
    const key = ipKey(keyPrefix);
    const slow = agent.get('/slow-fail').then((r) => r.status);
    await until(async () => (await client.get(key)) === '1', 3000, 'the slow request counted');
    await until(async () => (await client.exists(key)) === 0, 3000, 'its window to end');
    await agent.get('/').expect(200); // the newer window: 1
    release();
    expect(await slow).toBe(500);
    await new Promise((r) => setTimeout(r, 100)); // the take-back is sent after the response
    expect((await counterOf(client, key)).value).toBe('1');
  });

  it('delayAfter + timeWait: each request over delayAfter waits (n x timeWait), capped by the window', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 0, delayAfter: 1, timeWait: 150, interval: 60_000 }).callback());
    const timed = async (): Promise<number> => {
      const t = performance.now();
      await agent.get('/').expect(200);
      return performance.now() - t;
    };
    const first = await timed();
    const second = await timed();
    const third = await timed();
    expect(first).toBeLessThan(150);
    expect(second).toBeGreaterThanOrEqual(145);
    expect(third).toBeGreaterThanOrEqual(295);
    expect(third).toBeLessThan(2000);

    // capped: a 10 s delay in a 300 ms window waits at most until the window resets
    const capped = request(limitedApp({ registry, keyPrefix: randomPrefix('rl'), max: 0, delayAfter: 1, timeWait: 10_000, interval: 300 }).callback());
    await capped.get('/').expect(200);
    const t = performance.now();
    await capped.get('/').expect(200);
    expect(performance.now() - t).toBeLessThan(1500);
  });

  it("keyBy: 'user' buckets by ctx.state.user.id; anonymous requests by IP", async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(
      limitedApp(
        { registry, keyPrefix, max: 1, keyBy: 'user' },
        {
          before: async (ctx, next) => {
            const id = ctx.get('x-test-user');
            if (id) ctx.state.user = { id: Number(id) };
            await next();
          },
        },
      ).callback(),
    );
    await agent.get('/').set('x-test-user', '7').expect(200);
    await agent.get('/').set('x-test-user', '7').expect(429);
    await agent.get('/').set('x-test-user', '8').expect(200);
    await agent.get('/').expect(200);
    await agent.get('/').expect(429);
    expect(await client.exists(`${keyPrefix}global:user:7`, `${keyPrefix}global:user:8`, ipKey(keyPrefix))).toBe(3);
  });

  it('getUserId picks the user (and implies keyBy: user)', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(
      limitedApp(
        { registry, keyPrefix, max: 1, getUserId: (ctx) => ctx.state.account },
        {
          before: async (ctx, next) => {
            ctx.state.account = 'acct-1';
            await next();
          },
        },
      ).callback(),
    );
    await agent.get('/').expect(200);
    expect(await client.exists(`${keyPrefix}global:user:acct-1`)).toBe(1);
  });

  it('paths, excludePaths and methods; paths compare normalised (case, repeated and trailing slashes, %-encoding)', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(
      limitedApp({ registry, keyPrefix, max: 100, paths: ['/api/auth', /^\/login$/], excludePaths: ['/api/auth/public'], methods: ['post'] }).callback(),
    );
    const key = ipKey(keyPrefix);
    const count = async (): Promise<number> => Number((await client.get(key)) ?? 0);
    await agent.get('/api/auth/local').expect(200); // GET: not counted
    await agent.post('/api/authx').expect(200); // another path
    await agent.post('/api/auth/public/x').expect(200); // excluded
    expect(await count()).toBe(0);
    await agent.post('/api/auth').expect(200);
    await agent.post('/api/auth/local').expect(200);
    await agent.post('/API/Auth//local/').expect(200);
    await agent.post('/api/%61uth/local').expect(200);
    await agent.post('/LOGIN').expect(200);
    expect(await count()).toBe(5);
  });

  it('X-Forwarded-For counts only when the app trusts its proxy (app.proxy; Strapi: server.proxy.koa)', async () => {
    // not trusted: a client cannot pick a fresh bucket by sending a header
    const keyPrefix = randomPrefix('rl');
    const untrusted = request(limitedApp({ registry, keyPrefix, max: 1 }).callback());
    await untrusted.get('/').set('X-Forwarded-For', '203.0.113.1').expect(200);
    await untrusted.get('/').set('X-Forwarded-For', '203.0.113.2').expect(429);
    expect(await client.exists(ipKey(keyPrefix, 'global', '203.0.113.1'))).toBe(0);

    // trusted (behind a proxy): the forwarded address is the client
    const keyPrefix2 = randomPrefix('rl');
    const trusted = request(limitedApp({ registry, keyPrefix: keyPrefix2, max: 1 }, { proxy: true }).callback());
    await trusted.get('/').set('X-Forwarded-For', '203.0.113.1').expect(200);
    await trusted.get('/').set('X-Forwarded-For', '203.0.113.2').expect(200);
    await trusted.get('/').set('X-Forwarded-For', '203.0.113.1').expect(429);
    expect(await client.exists(ipKey(keyPrefix2, 'global', '203.0.113.1'), ipKey(keyPrefix2, 'global', '203.0.113.2'))).toBe(2);
  });

  it('a very long identity is hashed into a bounded key under the same prefix', async () => {
    const keyPrefix = randomPrefix('rl');
    const agent = request(limitedApp({ registry, keyPrefix, max: 1, keyGenerator: () => 'x'.repeat(5000) }).callback());
    const first = await agent.get('/').expect(200);
    const key: string = first.body.rateLimit.key;
    expect(key).toMatch(new RegExp(`^${keyPrefix}global:sha256:[0-9a-f]{64}$`));
    expect(await client.exists(key)).toBe(1);
    await agent.get('/').expect(429);
  });
});
