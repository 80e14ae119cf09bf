/**
 * honorRequestCacheControl: a request's `Cache-Control: no-cache` revalidates (the handler runs,
 * its answer replaces the entry), `no-store` bypasses; at most one honoured directive per key per
 * interval across instances, else the directive is ignored. Off by default.
 */
import Koa from 'koa';
import { expect, inject, it } from 'vitest';
import { responseCache, type ResponseCacheOptions } from '../../src/middlewares/cache/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { agentFor, registryFor } from './helpers.js';

const redis = inject('redis');

async function instances(options: Partial<ResponseCacheOptions>) {
  const prefix = randomPrefix('cache-rd');
  let calls = 0;
  return {
    calls: () => calls,
    prefix,
    apps: await Promise.all(
      [0, 1].map(async () => {
        const registry = await registryFor(redis.standalone.url);
        const app = new Koa();
        app.use(responseCache({ registry, prefix, logger: captureLogger(), routes: ['/r'], ...options }));
        app.use((ctx) => {
          ctx.body = { n: ++calls };
        });
        const agent = agentFor(app);
        return {
          get: (cc?: string) => (cc ? agent.get('/r').set('Host', 'shop.example').set('Cache-Control', cc) : agent.get('/r').set('Host', 'shop.example')),
          registry,
        };
      }),
    ),
  };
}

it('no-cache revalidates and refreshes the entry; no-store bypasses; one honoured directive per key per interval across instances', async () => {
  const { apps, calls, prefix } = await instances({ honorRequestCacheControl: { interval: 60_000 } });
  const [a, b] = apps as [(typeof apps)[0], (typeof apps)[0]];
  expect((await a.get()).body.n).toBe(1);
  const revalidated = await b.get('max-age=0, no-cache');
  expect(revalidated.headers['x-cache']).toBe('MISS');
  expect(revalidated.body.n).toBe(2);
  const hit = await a.get();
  expect(hit.headers['x-cache']).toBe('HIT');
  expect(hit.body.n).toBe(2); // the entry was replaced
  // within the interval, on either instance, a directive is ignored: served from the cache
  const ignored = await a.get('no-cache');
  expect(ignored.headers['x-cache']).toBe('HIT');
  expect((await b.get('no-store')).headers['x-cache']).toBe('HIT');
  expect(calls()).toBe(2);
  // the interval is a Redis key with PX: end it instead of waiting for it
  await a.registry.client('default').del(`${prefix}rd:GET /r|host=shop.example`);
  const bypass = await b.get('no-store');
  expect(bypass.headers['x-cache']).toBe('BYPASS');
  expect(bypass.body.n).toBe(3);
  const still = await a.get();
  expect(still.headers['x-cache']).toBe('HIT');
  expect(still.body.n).toBe(2); // no-store did not touch the entry
  const pttl = await a.registry.client('default').pttl(`${prefix}rd:GET /r|host=shop.example`);
  expect(pttl).toBeGreaterThan(59_000);
});

it('off by default: request directives are ignored; bad values stop the factory', async () => {
  const { apps, calls } = await instances({});
  await apps[0]!.get();
  expect((await apps[0]!.get('no-cache')).headers['x-cache']).toBe('HIT');
  expect((await apps[1]!.get('no-store')).headers['x-cache']).toBe('HIT');
  expect(calls()).toBe(1);
  expect(() => responseCache({ client: {} as never, honorRequestCacheControl: { interval: 0 } })).toThrow(
    /honorRequestCacheControl\.interval: got 0; expected an integer number of milliseconds >= 1/,
  );
  expect(() => responseCache({ client: {} as never, honorRequestCacheControl: 'yes' as never })).toThrow(
    /honorRequestCacheControl: got "yes"; expected true, false or \{ interval \}/,
  );
});
