/**
 * Options are validated once, in the factory: every problem is reported with its path, the value
 * and the fix. No Redis needed except where a connection is looked up.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createRedisRegistry } from '../../src/index.js';
import { createStrapiRateLimit, rateLimit, RateLimitConfigError, timeSpanToMs, type RateLimitOptions } from '../../src/middlewares/rate-limit/index.js';
import { middlewares } from '../../src/strapi/middlewares.js';
import { captureLogger } from '../helpers/logger.js';

const redis = inject('redis');
const registry = createRedisRegistry(
  { connections: { default: { connection: redis.standalone.url }, cache: { connection: redis.standalone.url } } },
  { logger: captureLogger() },
);
afterAll(() => registry.close());

const errorOf = (fn: () => unknown): RateLimitConfigError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof RateLimitConfigError) return err;
    throw err;
  }
  throw new Error('expected a RateLimitConfigError');
};

const fakeStrapi = () => ({
  log: captureLogger(),
  plugin: (name: string) => (name === 'redis' ? { service: (s: string) => (s === 'connections' ? registry : undefined) } : undefined),
});

describe('durations', () => {
  it("accept ms and koa2-ratelimit's unit objects", () => {
    expect(timeSpanToMs(1500)).toBe(1500);
    expect(timeSpanToMs({ min: 1 })).toBe(60_000);
    expect(timeSpanToMs({ hour: 1, min: 30, sec: 1, ms: 5 })).toBe(5_401_005);
    expect(timeSpanToMs({ sec: 0.0015 })).toBe(2); // whole ms, rounded up
    expect(() => timeSpanToMs({ mins: 1 })).toThrow(/"mins" is not a unit/);
    expect(() => timeSpanToMs(0)).toThrow(/at least 1 ms/);
    expect(() => timeSpanToMs('60s')).toThrow(/a number of milliseconds/);
  });
});

describe('validation', () => {
  it('collects every problem, each with its path, value and fix', () => {
    const err = errorOf(() =>
      rateLimit({ registry, max: -1, interval: { mins: 5 }, statusCode: 200, paths: ['api'], methods: [], headers: 'yes' } as unknown as RateLimitOptions),
    );
    expect(err.code).toBe('REDIS_SUITE_RATE_LIMIT_CONFIG');
    expect(err.issues.map((i) => i.path).sort()).toEqual([
      'options.headers',
      'options.interval',
      'options.max',
      'options.methods',
      'options.paths',
      'options.statusCode',
    ]);
    expect(err.message).toMatch(/^Invalid options of rateLimit\(\) \(6 problems\):/);
    expect(err.message).toContain('options.max: got -1 (number); expected an integer >= 0 (requests per window; 0 = no limit)');
    expect(err.message).toContain('options.interval: got {"mins":5} (object); expected a duration');
    expect(err.message).toContain('"mins" is not a unit');
  });

  it('unknown options get a "did you mean"; koa2-ratelimit options with no meaning here say why', () => {
    const err = errorOf(() => rateLimit({ registry, maxx: 5, store: {}, prefixKeySeparator: '|' } as unknown as RateLimitOptions));
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i.expected]));
    expect(byPath['options.maxx']).toMatch(/no such option \(did you mean "max"\?\)/);
    expect(byPath['options.store']).toMatch(/always counts in Redis on `connection`/);
    expect(byPath['options.prefixKeySeparator']).toMatch(/remove it/);
  });

  it('keyBy with keyGenerator, and delayAfter without a wait, are contradictions', () => {
    const err = errorOf(() => rateLimit({ registry, keyBy: 'user', keyGenerator: () => 'x', delayAfter: 2, timeWait: 0 }));
    expect(err.issues.map((i) => i.path).sort()).toEqual(['options.keyBy', 'options.timeWait']);
  });

  it('a secret-looking value is masked in the message', () => {
    const err = errorOf(() => rateLimit({ registry, password: 'hunter2' } as unknown as RateLimitOptions));
    expect(err.message).not.toContain('hunter2');
  });
});

describe('the connection is resolved in the factory', () => {
  it('Strapi: plugin::redis.rateLimit is registered; an unknown connection stops boot naming config.connection and the known ones', () => {
    expect(middlewares.rateLimit).toBe(createStrapiRateLimit);
    const err = errorOf(() => middlewares.rateLimit!({ connection: 'sessions' }, { strapi: fakeStrapi() }));
    expect(err.message).toMatch(/^Invalid config of plugin::redis\.rateLimit/);
    expect(err.issues[0]).toMatchObject({ path: 'config.connection', got: '"sessions"' });
    expect(err.issues[0]!.expected).toMatch(/Unknown Redis connection "sessions".*"default", "cache"/);
  });

  it('Strapi: bad values are reported under config.<option>', () => {
    const err = errorOf(() => createStrapiRateLimit({ max: 'ten' }, { strapi: fakeStrapi() }));
    expect(err.message).toMatch(/config of plugin::redis\.rateLimit \(config\/middlewares, or a route's config\.middlewares\)/);
    expect(err.issues[0]).toMatchObject({ path: 'config.max', got: '"ten" (string)' });
  });

  it('Strapi: no config at all is fine (the default connection)', () => {
    expect(typeof createStrapiRateLimit(undefined, { strapi: fakeStrapi() })).toBe('function');
  });

  it('plain Koa without registry or client says what to pass', () => {
    const err = errorOf(() => rateLimit({}));
    expect(err.issues[0]!.expected).toMatch(/pass \{ registry: createRedisRegistry\(\.\.\.\), connection: 'default' \} or \{ client: <ioredis client> \}/);
  });

  it('a named connection of a registry, or a RedisConnection object', () => {
    expect(typeof rateLimit({ registry, connection: 'cache' })).toBe('function');
    expect(typeof rateLimit({ connection: registry.get('cache') })).toBe('function');
  });
});
