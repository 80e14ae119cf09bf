/**
 * Limiters sharing a key namespace (issue #13 item 8). Two limiters on one Redis connection whose
 * keys are the same (`keyPrefix` + `prefixKey`) but whose limits differ would count into one key,
 * the first to create it setting the window: the second is a boot error naming both. Identical
 * limiters (one config on several routes) share one count, by design.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import Koa from 'koa';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { createStrapiRateLimit, rateLimit, RateLimitConfigError, type RateLimitOptions } from '../../src/middlewares/rate-limit/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { request } from './helpers.js';

const redis = inject('redis');
let registry: RedisRegistry;
let other: RedisRegistry;

beforeAll(async () => {
  const config = { connections: { default: { connection: redis.standalone.url }, cache: { connection: redis.standalone.url } } };
  registry = createRedisRegistry(config, { logger: captureLogger() });
  other = createRedisRegistry(config, { logger: captureLogger() }); // a second app instance on the same Redis
  await Promise.all([registry.waitUntilReady(), other.waitUntilReady()]);
});
afterAll(async () => {
  await Promise.all([registry?.close(), other?.close()]);
});

const errorOf = (fn: () => unknown): RateLimitConfigError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof RateLimitConfigError) return err;
    throw err;
  }
  throw new Error('expected a RateLimitConfigError, got none');
};

const app = (options: RateLimitOptions): Koa => {
  const koa = new Koa();
  koa.silent = true;
  koa.use(rateLimit(options));
  koa.use((ctx) => {
    ctx.body = 'ok';
  });
  return koa;
};

describe('plain Koa: rateLimit()', () => {
  it('the default prefixKey and other limits on one connection: the second limiter is a boot error naming both', () => {
    const keyPrefix = randomPrefix('rln');
    rateLimit({ registry, keyPrefix, interval: { min: 1 }, max: 100 }); // an API limiter
    const err = errorOf(() => rateLimit({ registry, keyPrefix, interval: { min: 15 }, max: 5 })); // a login limiter
    expect(err.code).toBe('REDIS_SUITE_RATE_LIMIT_CONFIG');
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]!.path).toBe('options.prefixKey');
    // both limiters, each with its limits and where it was created (this file)
    expect(err.message).toMatch(/interval 60000 ms, max 100/);
    expect(err.message).toMatch(/interval 900000 ms, max 5/);
    expect(err.message.match(/namespace\.test\.ts:\d+/g)).toHaveLength(2);
    expect(err.message).toContain(`"${keyPrefix}global:"`);
    expect(err.message).toContain('connection "default"');
    expect(err.message).toMatch(/"global" \(the default\)/);
    expect(err.message).toMatch(/give each limiter its own prefixKey/);
  });

  it('an explicit prefixKey shared by limiters with other limits is the same error (delayAfter counts too)', () => {
    const keyPrefix = randomPrefix('rln');
    rateLimit({ registry, keyPrefix, prefixKey: 'auth', max: 5 });
    const err = errorOf(() => rateLimit({ registry, keyPrefix, prefixKey: 'auth', max: 5, delayAfter: 2 }));
    expect(err.issues[0]!.path).toBe('options.prefixKey');
    expect(err.message).toMatch(/"auth"/);
    expect(err.message).toMatch(/max 5, delayAfter 2/);
  });

  it('identical limiters (one config used twice) share one count, by design', async () => {
    const keyPrefix = randomPrefix('rln');
    const options: RateLimitOptions = { registry, keyPrefix, max: 3, interval: 60_000 };
    const first = request(app(options).callback());
    const second = request(app({ ...options }).callback());
    await first.get('/').expect(200).expect('ratelimit-remaining', '2');
    await second.get('/').expect(200).expect('ratelimit-remaining', '1');
  });

  it('their own prefixKey, another keyPrefix, another connection, or another app instance: no conflict, separate counts', async () => {
    const keyPrefix = randomPrefix('rln');
    const a = request(app({ registry, keyPrefix, max: 100 }).callback());
    const b = request(app({ registry, keyPrefix, prefixKey: 'login', max: 5 }).callback());
    const c = request(app({ registry, keyPrefix: `${keyPrefix}x:`, max: 7 }).callback());
    expect(() => rateLimit({ registry, connection: 'cache', keyPrefix, max: 9 })).not.toThrow(); // another connection (same server)
    expect(() => rateLimit({ registry: other, keyPrefix, max: 11 })).not.toThrow(); // another instance: a rolling deploy may change limits
    await a.get('/').expect(200).expect('ratelimit-remaining', '99');
    await b.get('/').expect(200).expect('ratelimit-remaining', '4');
    await c.get('/').expect(200).expect('ratelimit-remaining', '6');
  });

  it('a disabled limiter counts nothing and claims nothing', () => {
    const keyPrefix = randomPrefix('rln');
    rateLimit({ registry, keyPrefix, max: 1, enabled: false });
    expect(() => rateLimit({ registry, keyPrefix, max: 50 })).not.toThrow();
  });
});

describe('Strapi: plugin::redis.rateLimit', () => {
  /** A Strapi stand-in: config/middlewares and one API's routes, as Strapi 5 keeps them. */
  const fakeStrapi = (globalMiddlewares: unknown[], routes: unknown[]) => ({
    log: captureLogger(),
    plugin: (name: string) => (name === 'redis' ? { service: (s: string) => (s === 'connections' ? registry : undefined) } : undefined),
    config: { get: (path: string) => (path === 'middlewares' ? globalMiddlewares : undefined) },
    apis: { article: { routes: { article: { type: 'content-api', routes } } } },
    plugins: {},
  });

  it('config/middlewares vs a route: the error names the entry of config/middlewares and the route', () => {
    const keyPrefix = randomPrefix('rln');
    const globalConfig = { keyPrefix, interval: { min: 1 }, max: 100 };
    const routeConfig = { keyPrefix, interval: { min: 15 }, max: 5 };
    const strapi = fakeStrapi(
      ['strapi::logger', 'strapi::errors', { name: 'plugin::redis.rateLimit', config: globalConfig }],
      [
        {
          method: 'POST',
          path: '/articles/login',
          handler: 'article.login',
          config: { middlewares: [{ name: 'plugin::redis.rateLimit', config: routeConfig }] },
        },
      ],
    );
    createStrapiRateLimit(globalConfig, { strapi });
    const err = errorOf(() => createStrapiRateLimit(routeConfig, { strapi }));
    expect(err.issues[0]!.path).toBe('config.prefixKey');
    expect(err.message).toMatch(/plugin::redis\.rateLimit in config\/middlewares \(entry 3\) with interval 60000 ms, max 100/);
    expect(err.message).toMatch(/route POST \/articles\/login \(config\.middlewares of api::article\) with interval 900000 ms, max 5/);
  });

  it('two routes: the error names both routes', () => {
    const keyPrefix = randomPrefix('rln');
    const login = { keyPrefix, max: 5 };
    const register = { keyPrefix, max: 3 };
    const strapi = fakeStrapi(
      [],
      [
        { method: 'POST', path: '/articles/login', config: { middlewares: [{ name: 'plugin::redis.rateLimit', config: login }] } },
        { method: 'POST', path: '/articles/register', config: { middlewares: ['plugin::redis.cache', { name: 'plugin::redis.rateLimit', config: register }] } },
      ],
    );
    createStrapiRateLimit(login, { strapi });
    const err = errorOf(() => createStrapiRateLimit(register, { strapi }));
    expect(err.message).toMatch(/route POST \/articles\/login \(config\.middlewares of api::article\) with interval 60000 ms, max 5/);
    expect(err.message).toMatch(/route POST \/articles\/register \(config\.middlewares of api::article\) with interval 60000 ms, max 3/);
  });

  it('the same config on several routes is built once per route and shares its count', () => {
    const keyPrefix = randomPrefix('rln');
    const shared = { keyPrefix, max: 5 };
    const strapi = fakeStrapi([], []);
    expect(() => {
      createStrapiRateLimit(shared, { strapi });
      createStrapiRateLimit(shared, { strapi });
      createStrapiRateLimit({ ...shared }, { strapi });
    }).not.toThrow();
  });
});
