/**
 * The one counters registry (issue #19 item 3): every rate limiter and store, session store and
 * Apollo/Keyv store registers its counters in its connection's registry; each registry sums its
 * own parts only (no process-wide counters), and a part on a raw client keeps its own.
 */
import Koa from 'koa';
import request from 'supertest';
import { describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import {
  createKeyvStore,
  createRedisSession,
  featureCounters,
  rateLimit,
  rateLimitCounters,
  RedisRateLimitStore,
  type RedisRegistry,
} from '../../src/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';

const redis = inject('redis');
const make = registriesClosedAfterEach();

function limitedApp(registry: RedisRegistry, max: number) {
  const app = new Koa();
  const limiter = rateLimit({ registry, keyPrefix: randomPrefix('cnt'), max, interval: 60_000, logger: captureLogger() });
  app.use(limiter);
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  return { limiter, agent: request(app.callback()) };
}

describe('counters per registry', () => {
  it('sums the parts of each feature on a registry, and another registry sees none of them', async () => {
    const one = make({ connections: { default: { connection: redis.standalone.url } } });
    const other = make({ connections: { default: { connection: redis.standalone.url } } });
    await Promise.all([one.waitUntilReady(), other.waitUntilReady()]);
    expect(featureCounters(one)).toEqual({ rateLimit: null, sessions: null, cache: null, apollo: null });

    const a = limitedApp(one, 2);
    const b = limitedApp(one, 100);
    for (let i = 0; i < 3; i++) await a.agent.get('/');
    await b.agent.get('/').expect(200);
    const store = new RedisRateLimitStore({ registry: one, keyPrefix: randomPrefix('cnts') });
    await store.incr('k', { interval: 60_000 }, 1);

    const session = new Koa();
    session.keys = ['k1'];
    session.use(createRedisSession(session, { registry: one, prefix: randomPrefix('cnt-sess'), logger: captureLogger() }));
    session.use((ctx) => {
      ctx.session!.seen = true;
      ctx.body = 'ok';
    });
    await request(session.callback()).get('/').expect(200);

    const keyv = createKeyvStore({ registry: one, namespace: randomPrefix('cnt-kv') });
    await keyv.set('x', 'v');
    await keyv.get('x');
    await keyv.get('missing');

    // each limiter's own counts, and their sum with the store's on the registry
    expect(rateLimitCounters(a.limiter)).toMatchObject({ passed: 2, limited: 1, storeErrors: 0 });
    expect(rateLimitCounters(b.limiter)).toMatchObject({ passed: 1, limited: 0 });
    expect(store.counters).toMatchObject({ passed: 1 });
    const sums = featureCounters(one);
    expect(sums.rateLimit).toMatchObject({ passed: 4, limited: 1, storeErrors: 0, failedOpen: 0 });
    expect(sums.sessions).toMatchObject({ saved: 1, failures: 0 });
    expect(sums.apollo).toMatchObject({ writes: 1, hits: 1, misses: 1 });
    // the other registry on the same server: nothing of these parts
    expect(featureCounters(other)).toEqual({ rateLimit: null, sessions: null, cache: null, apollo: null });
  });

  it('a limiter on a raw ioredis client keeps its counters to itself', async () => {
    const client = new Redis(redis.standalone.url);
    try {
      await client.ping(); // ready: a hit on a client that is not ready fails open, uncounted
      const app = new Koa();
      const limiter = rateLimit({ client, keyPrefix: randomPrefix('cnt-raw'), max: 1, interval: 60_000, logger: captureLogger() });
      app.use(limiter);
      app.use((ctx) => {
        ctx.body = 'ok';
      });
      const agent = request(app.callback());
      await agent.get('/').expect(200);
      await agent.get('/').expect(429);
      expect(rateLimitCounters(limiter)).toMatchObject({ passed: 1, limited: 1 });
      expect(() => rateLimitCounters((async () => undefined) as never)).toThrow(/not a rate-limit middleware/);
    } finally {
      client.disconnect();
    }
  });
});
