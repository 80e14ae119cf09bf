/**
 * `RedisRateLimitStore` through koa2-ratelimit's own `RateLimit` (the code Strapi's admin and
 * users-permissions limiters run), on a real Redis.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import Koa from 'koa';
import koa2RateLimit from 'koa2-ratelimit';
import { Redis } from 'ioredis';
import { createRedisRegistry, UnknownConnectionError, type RedisRegistry } from '../../src/index.js';
import { RateLimitConfigError, RedisRateLimitStore, UNHIT_LUA } from '../../src/middlewares/rate-limit/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { request, until } from './helpers.js';

const { RateLimit, Stores } = koa2RateLimit;
const redis = inject('redis');
const registries: RedisRegistry[] = [];
let a: RedisRegistry;
let b: RedisRegistry;

const newRegistry = async (): Promise<RedisRegistry> => {
  const r = createRedisRegistry({ connections: { default: { connection: redis.standalone.url } } }, { logger: captureLogger() });
  registries.push(r);
  await r.waitUntilReady();
  return r;
};

beforeAll(async () => {
  // two registries = two app instances sharing one Redis
  [a, b] = await Promise.all([newRegistry(), newRegistry()]);
});
afterAll(async () => {
  await Promise.all(registries.map((r) => r.close()));
});

/** A Koa app running koa2-ratelimit the way Strapi's limiters do (a RateLimit per request, a throwing handler). */
function strapiLikeApp(store: RedisRateLimitStore, extra: Record<string, unknown> = {}): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const e = err as { status?: number; name: string };
      ctx.status = e.status ?? 500;
      ctx.body = { error: e.name };
    }
  });
  app.use((ctx, next) =>
    RateLimit.middleware({
      interval: { min: 5 },
      max: 5,
      prefixKey: `unknownEmail:${ctx.path}:${ctx.ip}`,
      handler() {
        const e = new Error('Too many requests') as Error & { status: number };
        e.name = 'RateLimitError';
        e.status = 429;
        throw e;
      },
      store,
      ...extra,
    })(ctx, next),
  );
  app.use((ctx) => {
    ctx.status = ctx.path === '/login' ? 400 : 200; // a failed login
    ctx.body = { ok: ctx.status === 200 };
  });
  return app;
}

describe('the koa2-ratelimit contract', () => {
  it('is a Store of the koa2-ratelimit copy this package resolves (RateLimit accepts it)', () => {
    const store = new RedisRateLimitStore({ registry: a });
    expect(store).toBeInstanceOf(Stores.Store);
    expect(() => new RateLimit.RateLimit({ store })).not.toThrow();
    expect(() => new RateLimit.RateLimit({ store: {} })).toThrow('The store is not valid.');
  });

  it('instances sharing Redis share the count: 5 failed logins on A, the 6th on B is refused', async () => {
    const keyPrefix = randomPrefix('rls');
    const onA = request(strapiLikeApp(new RedisRateLimitStore({ registry: a, keyPrefix })).callback());
    const onB = request(strapiLikeApp(new RedisRateLimitStore({ registry: b, keyPrefix })).callback());
    for (let i = 0; i < 5; i++) await onA.post('/login').expect(400);
    const refused = await onB.post('/login').expect(429);
    expect(refused.body).toEqual({ error: 'RateLimitError' });
    // the key: our prefix, then koa2-ratelimit's `${prefixKey}|${ip}`
    const key = `${keyPrefix}unknownEmail:/login:127.0.0.1|127.0.0.1`;
    const client = a.client('default');
    expect(await client.get(key)).toBe('6');
    const pttl = await client.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5 * 60_000);
  });

  it('50 concurrent requests through koa2-ratelimit are counted exactly', async () => {
    const keyPrefix = randomPrefix('rls');
    const agent = request(strapiLikeApp(new RedisRateLimitStore({ registry: a, keyPrefix }), { max: 1000 }).callback());
    const res = await Promise.all(Array.from({ length: 50 }, () => agent.get('/')));
    expect(res.every((r) => r.status === 200)).toBe(true);
    const remaining = res.map((r) => Number(r.headers['x-ratelimit-remaining'])).sort((x, y) => x - y);
    expect(remaining).toEqual(Array.from({ length: 50 }, (_, i) => 950 + i));
  });

  it('incr returns the count and the reset time in epoch ms; koa2-ratelimit turns it into a real X-RateLimit-Reset', async () => {
    const store = new RedisRateLimitStore({ registry: a, keyPrefix: randomPrefix('rls') });
    const before = Date.now();
    const hit = await store.incr('k', { interval: 10_000 }, 2);
    expect(hit.counter).toBe(2);
    expect(hit.dateEnd).toBeGreaterThan(before + 9_000);
    expect(hit.dateEnd).toBeLessThanOrEqual(Date.now() + 10_000);

    const agent = request(strapiLikeApp(new RedisRateLimitStore({ registry: a, keyPrefix: randomPrefix('rls') })).callback());
    const res = await agent.get('/').expect(200);
    const reset = Number(res.headers['x-ratelimit-reset']);
    expect(reset).toBeGreaterThan(Date.now() / 1000 + 290); // 5 min window, in epoch seconds (koa2's RedisStore sent 1)
    expect(reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 300);
  });

  it('decrement (skipFailedRequests) takes the hit back and never rejects, even for a missing key', async () => {
    const keyPrefix = randomPrefix('rls');
    const store = new RedisRateLimitStore({ registry: a, keyPrefix });
    const agent = request(strapiLikeApp(store, { skipFailedRequests: true }).callback());
    for (let i = 0; i < 7; i++) await agent.post('/login').expect(400); // all failed: all taken back
    const key = `${keyPrefix}unknownEmail:/login:127.0.0.1|127.0.0.1`;
    await until(async () => (await a.client('default').get(key)) === '0', 3000, 'decrements');
    await agent.get('/').expect(200);
    await expect(store.decrement('never-counted', { interval: 1000 }, 1)).resolves.toBeUndefined();
    expect(await a.client('default').exists(`${keyPrefix}never-counted`)).toBe(0);
    expect(store.saveAbuse()).toBeUndefined();
  });

  it("decrement takes a hit back only in that hit's own window: a failed login that ends after a rollover leaves the newer window alone", async () => {
    // Strapi's way: a RateLimit per request; the slow request fails after its window ended and a newer one began.
    const keyPrefix = randomPrefix('rls');
    const store = new RedisRateLimitStore({ registry: a, keyPrefix });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const app = new Koa();
    app.silent = true;
    app.use((ctx, next) => RateLimit.middleware({ interval: 1000, max: 10, prefixKey: 'login', skipFailedRequests: true, store })(ctx, next));
    app.use(async (ctx) => {
      if (ctx.path === '/slow-fail') await gate;
      ctx.status = ctx.path === '/slow-fail' ? 400 : 200;
      ctx.body = { ok: ctx.status === 200 };
    });
    const agent = request(app.callback());
    const key = `${keyPrefix}login|127.0.0.1`;
    const client = a.client('default');
    const slow = agent.post('/slow-fail').then((r) => r.status);
    await until(async () => (await client.get(key)) === '1', 3000, 'the slow request counted');
    await until(async () => (await client.exists(key)) === 0, 3000, 'its window to end');
    await agent.get('/ok').expect(200); // the newer window: 1
    release();
    expect(await slow).toBe(400);
    await new Promise((r) => setTimeout(r, 150)); // koa2-ratelimit decrements on 'finish', not awaited
    expect(await client.get(key)).toBe('1');
  });

  it('the store API: a decrement after the window rolled over, with the same options object for both hits, leaves the newer window alone', async () => {
    const keyPrefix = randomPrefix('rls');
    const store = new RedisRateLimitStore({ registry: a, keyPrefix });
    const client = a.client('default');
    const options = { interval: 1000 }; // one RateLimit serving every request: koa2-ratelimit passes its own options object each time
    expect((await store.incr('k', options, 1)).counter).toBe(1); // the old request
    await until(async () => (await client.exists(`${keyPrefix}k`)) === 0, 3000, 'the window to end');
    expect((await store.incr('k', options, 1)).counter).toBe(1); // a request in the newer window
    await store.decrement('k', options, 1); // the old request failed
    expect(await client.get(`${keyPrefix}k`)).toBe('1');
    await store.decrement('k', options, 1); // the newer one failed: taken back
    expect(await client.get(`${keyPrefix}k`)).toBe('0');
    // a decrement with nothing counted under these options changes nothing
    await store.decrement('k', { interval: 1000 }, 1);
    await store.incr('k', options, 1);
    await store.decrement('k', { interval: 1000 }, 1);
    expect(await client.get(`${keyPrefix}k`)).toBe('1');
  });

  it("a key longer than 256 characters (e.g. a long email in Strapi's key) is hashed under the prefix", async () => {
    const keyPrefix = randomPrefix('rls');
    const store = new RedisRateLimitStore({ registry: a, keyPrefix });
    const id = `${'a'.repeat(4000)}@example.com:/admin/login:1.2.3.4|1.2.3.4`;
    await store.incr(id, { interval: 5000 }, 1);
    const hashed = `${keyPrefix}sha256:${createHash('sha256').update(id).digest('hex')}`;
    expect(await a.client('default').get(hashed)).toBe('1');
  });
});

describe('finding the connection', () => {
  afterEach(() => {
    delete (globalThis as { strapi?: unknown }).strapi;
  });

  it('resolves a named connection lazily, from globalThis.strapi, on first use', async () => {
    const store = new RedisRateLimitStore({ connection: 'default', keyPrefix: randomPrefix('rls') }); // as in config/admin.ts: no Strapi yet
    (globalThis as { strapi?: unknown }).strapi = {
      log: captureLogger(),
      plugin: (name: string) => (name === 'redis' ? { service: (s: string) => (s === 'connections' ? a : undefined) } : undefined),
    };
    expect((await store.incr('k', { interval: 1000 }, 1)).counter).toBe(1);
  });

  it('an unknown connection name fails loudly, listing the known ones', async () => {
    const store = new RedisRateLimitStore({ registry: a, connection: 'sessions' });
    await expect(store.incr('k', { interval: 1000 }, 1)).rejects.toBeInstanceOf(UnknownConnectionError);
    await expect(store.incr('k', { interval: 1000 }, 1)).rejects.toThrow(/"sessions".*"default"/);
  });

  it('outside Strapi with nothing to count in, says what to pass', async () => {
    const store = new RedisRateLimitStore();
    await expect(store.incr('k', { interval: 1000 }, 1)).rejects.toThrow(/pass \{ registry: createRedisRegistry/);
  });

  it('accepts a raw ioredis client', async () => {
    const client = new Redis(redis.standalone.url);
    try {
      await new Promise((r) => client.once('ready', r));
      const store = new RedisRateLimitStore({ client, keyPrefix: randomPrefix('rls') });
      expect((await store.incr('k', { interval: 1000 }, 3)).counter).toBe(3);
    } finally {
      client.disconnect();
    }
  });

  it('invalid options stop construction (config load), naming each', () => {
    expect(() => new RedisRateLimitStore({ connection: '' })).toThrow(RateLimitConfigError);
    const err = (() => {
      try {
        new RedisRateLimitStore({ failOpen: 'no', keyPrefx: 'x', requestTimeout: 0 } as never);
      } catch (e) {
        return e as RateLimitConfigError;
      }
      throw new Error('no error');
    })();
    expect(err.issues.map((i) => i.path).sort()).toEqual(['options.failOpen', 'options.keyPrefx', 'options.requestTimeout']);
    expect(err.message).toMatch(/options\.failOpen: got "no" \(string\); expected true or false/);
  });
});

describe('the take-back script', () => {
  it('never creates a key, never goes below 0, keeps the TTL, and skips a newer window', async () => {
    const client = a.client('default');
    const key = `${randomPrefix('rls')}k`;
    const unhit = (weight: number, maxTtl: number) => client.eval(UNHIT_LUA, 1, key, weight, maxTtl);
    expect(await unhit(1, 10_000)).toBe(-1);
    expect(await client.exists(key)).toBe(0);
    await client.set(key, '2', 'PX', 5000);
    expect(await unhit(5, 10_000)).toBe(0); // floored at 0
    expect(await client.pttl(key)).toBeGreaterThan(4000);
    await client.set(key, '2', 'PX', 5000);
    expect(await unhit(1, 1000)).toBe(-1); // PTTL 5000 > 1000: a newer window than the hit's
    expect(await client.get(key)).toBe('2');
    await client.set(key, '2'); // no TTL: left alone
    expect(await unhit(1, 10_000)).toBe(-1);
    await client.del(key);
  });
});
