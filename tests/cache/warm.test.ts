/**
 * Warm-up: `warm` paths are filled through the app, once at a time across instances (a lock),
 * skipping fresh entries, bounded by warmTimeout; again after a purge of their tags.
 */
import Koa from 'koa';
import { expect, inject, it } from 'vitest';
import { responseCache, type ResponseCacheOptions } from '../../src/middlewares/cache/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger, waitFor } from '../helpers/logger.js';
import { agentFor, registryFor } from './helpers.js';

const redis = inject('redis');

async function instances(options: Partial<ResponseCacheOptions>) {
  const prefix = randomPrefix('cache-warm');
  const state = { calls: {} as Record<string, number>, gate: undefined as Promise<void> | undefined };
  const apps = await Promise.all(
    [0, 1].map(async () => {
      const registry = await registryFor(redis.standalone.url);
      const logger = captureLogger();
      const app = new Koa();
      const mw = responseCache({
        registry,
        prefix,
        logger,
        keyHost: false,
        routes: [
          { path: '/list', tags: ['list'] },
          { path: '/slow', tags: ['slow'] },
        ],
        warm: ['/list?page=1', 'http://shop.example/list?page=2'],
        ...options,
      });
      app.use(mw);
      app.use(async (ctx) => {
        state.calls[ctx.url] = (state.calls[ctx.url] ?? 0) + 1;
        if (ctx.path === '/slow') await state.gate;
        ctx.body = { url: ctx.url, host: ctx.host };
      });
      return { app, mw, registry, logger, agent: agentFor(app) };
    }),
  );
  return { apps, state, prefix };
}

it('two instances warming at once fill each path once; fresh entries are not run again; requests then HIT', async () => {
  const { apps, state, prefix } = await instances({});
  const counts = await Promise.all(apps.map((a) => a.mw.cache.warm!(a.app)));
  expect(counts.reduce((x, y) => x + y, 0)).toBe(2);
  expect(state.calls).toEqual({ '/list?page=1': 1, '/list?page=2': 1 });
  expect(await apps[0]!.registry.client('default').exists(`${prefix}e:GET /list?page=1`, `${prefix}e:GET /list?page=2`)).toBe(2);
  const hit = await apps[1]!.agent.get('/list?page=1').expect(200);
  expect(hit.headers['x-cache']).toBe('HIT');
  // a second warm-up finds them fresh: no handler run
  expect(await apps[0]!.mw.cache.warm!(apps[0]!.app)).toBe(0);
  expect(state.calls).toEqual({ '/list?page=1': 1, '/list?page=2': 1 });
  // the full URL's host reached the handler
  expect(JSON.parse((await apps[0]!.agent.get('/list?page=2')).text).host).toBe('shop.example');
  // no lock left behind
  expect(await apps[0]!.registry.client('default').exists(`${prefix}wl: /list?page=1`)).toBe(0);
});

it('after a purge the warm paths are filled again in the background (the purge does not wait for them)', async () => {
  const { apps, state, prefix } = await instances({});
  await apps[0]!.agent.get('/list?page=1').expect(200); // the app is known from a request
  await apps[0]!.mw.cache.warm!();
  expect(state.calls['/list?page=1']).toBe(1);
  await apps[0]!.mw.cache.purgeTag('list');
  await waitFor(
    async () => (await apps[0]!.registry.client('default').exists(`${prefix}e:GET /list?page=1`, `${prefix}e:GET /list?page=2`)) === 2,
    5_000,
    'the warm-up after the purge',
  );
  expect(state.calls).toEqual({ '/list?page=1': 2, '/list?page=2': 2 });
  expect((await apps[1]!.agent.get('/list?page=2')).headers['x-cache']).toBe('HIT');
});

it('each warm-up request is bounded by warmTimeout; bad paths stop the factory', async () => {
  const { apps, state } = await instances({ warm: ['/slow', '/list?page=1'], warmTimeout: 200 });
  state.gate = new Promise<void>(() => undefined); // never opens
  const started = performance.now();
  expect(await apps[0]!.mw.cache.warm!(apps[0]!.app)).toBe(1);
  expect(performance.now() - started).toBeLessThan(1_500);
  expect(apps[0]!.logger.of('warn').join('\n')).toMatch(/warm-up of \/slow took longer than warmTimeout \(200 ms\)/);
  expect(state.calls['/list?page=1']).toBe(1);
  expect(() => responseCache({ client: {} as never, warm: ['list'] })).toThrow(/warm\[0\]: got "list"; expected a path starting with '\/' or an http\(s\) URL/);
  expect(() => responseCache({ client: {} as never, warmTimeout: 0 })).toThrow(/warmTimeout: got 0/);
});
