/**
 * stale-while-revalidate in plain Koa on real Redis (standalone and Cluster): two "instances"
 * (two Koa apps, two registries, one prefix) and one injected clock, so windows pass without
 * sleeping. After maxAge an entry is served STALE at once while one request across both
 * instances refreshes it in the background under the fill lock; a purge removes stale entries.
 */
import Koa from 'koa';
import { describe, expect, inject, it } from 'vitest';
import { CacheConfigError, responseCache, type ResponseCacheOptions } from '../../src/middlewares/cache/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger, waitFor } from '../helpers/logger.js';
import { agentFor, registryFor } from './helpers.js';

const redis = inject('redis');

const MAX_AGE = 30_000;
const SWR = 60_000;

/** Two instances on one prefix and one clock; the handler waits on `gate`, counts its runs and may fail. */
async function twoInstances(connection: unknown, options: Partial<ResponseCacheOptions> = {}) {
  const prefix = randomPrefix('cache-swr');
  const clock = { t: Date.now() };
  const state = { calls: 0, status: 200, gate: undefined as Promise<void> | undefined, seen: [] as Array<Record<string, unknown>> };
  const apps = await Promise.all(
    [0, 1].map(async () => {
      const registry = await registryFor(connection);
      const app = new Koa();
      const mw = responseCache({
        registry,
        prefix,
        logger: captureLogger(),
        routes: [{ path: '/report', tags: ['report'] }],
        maxAge: MAX_AGE,
        staleWhileRevalidate: SWR,
        now: () => clock.t,
        ...options,
      });
      app.use(mw);
      app.use(async (ctx) => {
        state.calls++;
        const n = state.calls;
        state.seen.push({ ...ctx.headers, url: ctx.url, method: ctx.method });
        await state.gate;
        ctx.status = state.status;
        ctx.body = { report: n, lang: ctx.get('accept-language') || null };
      });
      const agent = agentFor(app);
      return { get: (path: string) => agent.get(path).set('Host', 'shop.example'), mw, registry };
    }),
  );
  return { apps, state, clock, prefix, entry: `${prefix}e:GET /report|host=shop.example` };
}

describe.each([
  ['standalone', () => redis.standalone.url],
  ['cluster', () => ({ nodes: redis.cluster.nodes })],
])('on %s', (_kind, connection) => {
  it('50 concurrent requests for an expired entry on two instances get the stale body at once; the handler runs once, in the background', async () => {
    const { apps, state, clock, entry } = await twoInstances(connection());
    const first = await apps[0]!.get('/report').expect(200);
    expect(first.headers['x-cache']).toBe('MISS');
    // kept for maxAge + staleWhileRevalidate (Redis' own clock), judged fresh from its stored time
    const pttl = await apps[0]!.registry.client('default').pttl(entry);
    expect(pttl).toBeGreaterThan(MAX_AGE + SWR - 2_000);
    expect(pttl).toBeLessThanOrEqual(MAX_AGE + SWR);
    expect((await apps[1]!.get('/report').expect(200)).headers['x-cache']).toBe('HIT');

    clock.t += MAX_AGE + 1;
    // the refresh's handler hangs until the gate opens: every request is answered before it
    let open!: () => void;
    state.gate = new Promise<void>((r) => (open = r));
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => apps[i % 2]!.get('/report')));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(responses.map((r) => r.headers['x-cache'])).toEqual(Array(50).fill('STALE'));
    expect(new Set(responses.map((r) => r.text))).toEqual(new Set([first.text]));
    expect(responses.every((r) => r.headers.age === '30')).toBe(true);
    await waitFor(() => state.calls === 2, 5_000, 'the background refresh to start');
    open();
    // polls that come before the refreshed entry is stored are served STALE too: count them
    let stalePolls = 0;
    await waitFor(
      async () => {
        const poll = await apps[1]!.get('/report');
        if (poll.headers['x-cache'] === 'STALE') stalePolls++;
        return JSON.parse(poll.text).report === 2;
      },
      5_000,
      'the refreshed entry',
    );
    const after = await apps[0]!.get('/report').expect(200);
    expect(after.headers['x-cache']).toBe('HIT');
    expect(after.body.report).toBe(2);
    expect(after.headers.age).toBe('0');
    expect(state.calls).toBe(2);
    expect(apps.reduce((n, a) => n + a.mw.cache.counters.refreshes, 0)).toBe(1);
    expect(apps.reduce((n, a) => n + a.mw.cache.counters.stale, 0)).toBe(50 + stalePolls);
    // the refresh carried the request's headers (the key's), no conditional ones; its lock is gone
    expect(state.seen[1]).toMatchObject({ host: 'shop.example', url: '/report', method: 'GET' });
    expect(state.seen[1]!['if-none-match']).toBeUndefined();
    // the fill lock is released after the entry is stored (on a Cluster it may land a moment later)
    const lockKey = entry.replace(':e:', ':l:');
    await waitFor(async () => (await apps[0]!.registry.client('default').exists(lockKey)) === 0, 2_000, 'the fill lock to be released');
  });

  it('past maxAge + staleWhileRevalidate an entry is a miss; a purge removes stale entries (purged means gone)', async () => {
    const { apps, state, clock } = await twoInstances(connection());
    await apps[0]!.get('/report').expect(200);
    clock.t += MAX_AGE + SWR;
    const late = await apps[1]!.get('/report').expect(200);
    expect(late.headers['x-cache']).toBe('MISS');
    expect(late.body.report).toBe(2);
    // now stale again, then purged: the next request runs the handler, no STALE copy survives
    clock.t += MAX_AGE + 5;
    await apps[0]!.mw.cache.purgeTag('report');
    const purged = await apps[1]!.get('/report').expect(200);
    expect(purged.headers['x-cache']).toBe('MISS');
    expect(purged.body.report).toBe(3);
    expect(state.calls).toBe(3);
  });

  it('a refresh whose handler fails keeps the stale entry and frees the lock: the next stale read refreshes again', async () => {
    const { apps, state, clock, entry } = await twoInstances(connection());
    await apps[0]!.get('/report').expect(200);
    clock.t += MAX_AGE + 10;
    state.status = 500;
    expect((await apps[0]!.get('/report').expect(200)).headers['x-cache']).toBe('STALE');
    await waitFor(() => state.calls === 2, 5_000, 'the failed refresh');
    const lock = entry.replace(':e:', ':l:');
    await waitFor(async () => (await apps[0]!.registry.client('default').exists(lock)) === 0, 5_000, 'the lock released');
    state.status = 200;
    const again = await apps[1]!.get('/report').expect(200);
    expect(again.headers['x-cache']).toBe('STALE');
    expect(again.body.report).toBe(1);
    await waitFor(async () => (await apps[0]!.get('/report')).headers['x-cache'] === 'HIT', 5_000, 'the second refresh');
    expect(state.calls).toBe(3);
  });
});

it('per rule: a rule without staleWhileRevalidate expires at maxAge; the global one applies elsewhere', async () => {
  const registry = await registryFor(redis.standalone.url);
  const clock = { t: Date.now() };
  let calls = 0;
  const app = new Koa();
  app.use(
    responseCache({
      registry,
      prefix: randomPrefix('cache-swr'),
      logger: captureLogger(),
      maxAge: 1_000,
      staleWhileRevalidate: 5_000,
      now: () => clock.t,
      routes: ['/a', { path: '/b', staleWhileRevalidate: 0 }],
    }),
  );
  app.use((ctx) => {
    ctx.body = { calls: ++calls };
  });
  const agent = agentFor(app);
  await agent.get('/a');
  await agent.get('/b');
  clock.t += 1_001;
  expect((await agent.get('/a')).headers['x-cache']).toBe('STALE');
  expect((await agent.get('/b')).headers['x-cache']).toBe('MISS');
});

it('bad staleWhileRevalidate stops the factory naming the path, the value and what is expected', () => {
  expect(() => responseCache({ client: {} as never, staleWhileRevalidate: -5 })).toThrow(CacheConfigError);
  expect(() => responseCache({ client: {} as never, staleWhileRevalidate: -5 })).toThrow(
    /staleWhileRevalidate: got -5; expected an integer number of milliseconds >= 0/,
  );
  expect(() => responseCache({ client: {} as never, routes: [{ path: '/x', staleWhileRevalidate: 1.5 }] })).toThrow(
    /routes\[0\]\.staleWhileRevalidate: got 1.5/,
  );
  expect(() => responseCache({ client: {} as never, now: 5 as never })).toThrow(/now: got 5; expected a function/);
});
