/**
 * Coalescing of concurrent misses across instances (two Koa apps, two registries, one Redis):
 * one request runs the handler, the others are answered from its entry; waits are bounded.
 */
import Koa from 'koa';
import { describe, expect, inject, it } from 'vitest';
import { responseCache, type ResponseCacheOptions } from '../../src/middlewares/cache/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { agentFor, registryFor } from './helpers.js';

const redis = inject('redis');

/** Two "instances" on one prefix; the handler waits on `gate` and counts its runs. */
async function twoInstances(connection: unknown, options: Partial<ResponseCacheOptions>) {
  const prefix = randomPrefix('cache-co');
  const state = { calls: 0, status: 200, gate: undefined as Promise<void> | undefined };
  const apps = await Promise.all(
    [0, 1].map(async () => {
      const registry = await registryFor(connection);
      const app = new Koa();
      // readTimeout 1 s: these tests are about coalescing; a read that times out on a loaded
      // machine is a miss that does not coalesce (by design), which is tested on its own elsewhere
      const mw = responseCache({ registry, prefix, logger: captureLogger(), routes: ['/report'], coalesce: true, readTimeout: 1000, ...options });
      app.use(mw);
      app.use(async (ctx) => {
        state.calls++;
        await state.gate;
        ctx.status = state.status;
        ctx.body = { report: 'expensive', calls: state.calls };
      });
      // Behind one load balancer both instances see the site's host, whatever port each listens on.
      const agent = agentFor(app);
      return { agent: { get: (path: string) => agent.get(path).set('Host', 'shop.example') }, mw, registry };
    }),
  );
  return { apps, state, prefix };
}

describe.each([
  ['standalone', () => redis.standalone.url],
  ['cluster', () => ({ nodes: redis.cluster.nodes })],
])('on %s', (_kind, connection) => {
  it('six concurrent misses on two instances run the handler once; the others get its entry', async () => {
    const { apps, state } = await twoInstances(connection(), {});
    let open!: () => void;
    state.gate = new Promise<void>((r) => (open = r));
    const pending = Array.from({ length: 6 }, (_, i) => apps[i % 2]!.agent.get('/report').then((r) => r));
    while (state.calls === 0) await new Promise((r) => setTimeout(r, 5));
    // let the waiters start polling before the filler finishes
    await new Promise((r) => setTimeout(r, 60));
    open();
    const responses = await Promise.all(pending);
    expect(state.calls).toBe(1);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(new Set(responses.map((r) => r.text)).size).toBe(1);
    expect(responses.map((r) => r.headers['x-cache']).sort()).toEqual(['HIT', 'HIT', 'HIT', 'HIT', 'HIT', 'MISS']);
    const coalesced = apps.reduce((n, a) => n + a.mw.cache.counters.coalesced, 0);
    expect(coalesced).toBe(5);
  });

  it('a filler whose response is not cacheable releases its lock: the waiters run the handler at once', async () => {
    const { apps, state } = await twoInstances(connection(), { coalesce: { maxWait: 5000, pollInterval: 10 } });
    state.status = 500;
    let open!: () => void;
    state.gate = new Promise<void>((r) => (open = r));
    const started = performance.now();
    const pending = Array.from({ length: 4 }, (_, i) => apps[i % 2]!.agent.get('/report').then((r) => r));
    while (state.calls === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 30));
    open();
    const responses = await Promise.all(pending);
    expect(responses.map((r) => r.status)).toEqual([500, 500, 500, 500]);
    expect(state.calls).toBe(4);
    expect(performance.now() - started).toBeLessThan(2000); // far below maxWait (5 s)
  });
});

it('a lock left by a filler that died bounds the wait at maxWait, then the request runs the handler', async () => {
  const { apps, state, prefix } = await twoInstances(redis.standalone.url, { coalesce: { maxWait: 300, pollInterval: 20, lockTTL: 60_000 } });
  // a crashed filler on another instance
  await apps[0]!.registry.client('default').set(`${prefix}l:GET /report|host=shop.example`, 'dead-token', 'PX', 60_000);
  const started = performance.now();
  const res = await apps[1]!.agent.get('/report').expect(200);
  const took = performance.now() - started;
  expect(res.headers['x-cache']).toBe('MISS');
  expect(state.calls).toBe(1);
  expect(took).toBeGreaterThanOrEqual(280);
  expect(took).toBeLessThan(1500);
  // its lock is not ours: it is left alone (it expires by itself)
  expect(await apps[0]!.registry.client('default').get(`${prefix}l:GET /report|host=shop.example`)).toBe('dead-token');
});

it('a lock older than half its TTL (its filler died or could not release it) is not waited for again: the request runs the handler at once', async () => {
  // Found by the chaos run: after an instance was SIGKILLed (or Redis restarted from its AOF) while
  // filling, the fill lock lived on for its lockTTL (10 s) and every miss of that entry waited the
  // full maxWait (1 s) for a fill that was never coming: 167 cached reads took ~1 s with no fault active.
  const { apps, state, prefix } = await twoInstances(redis.standalone.url, { coalesce: { maxWait: 500, pollInterval: 20, lockTTL: 10_000 } });
  // Taken 6 s ago (4 s of its 10 s left): more than half its TTL, and longer ago than any waiter waits.
  await apps[0]!.registry.client('default').set(`${prefix}l:GET /report|host=shop.example`, 'dead-token', 'PX', 4_000);
  const started = performance.now();
  const res = await apps[1]!.agent.get('/report').expect(200);
  const took = performance.now() - started;
  expect(res.headers['x-cache']).toBe('MISS');
  expect(state.calls).toBe(1);
  expect(took).toBeLessThan(400); // not maxWait (500 ms): one poll at most
});

it('a live filler slower than maxWait is still waited for while its lock is younger than half its TTL', async () => {
  const { apps, state } = await twoInstances(redis.standalone.url, { coalesce: { maxWait: 300, pollInterval: 20, lockTTL: 10_000 } });
  let open!: () => void;
  state.gate = new Promise<void>((r) => (open = r));
  const first = apps[0]!.agent.get('/report').then((r) => r);
  while (state.calls === 0) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 400)); // the lock is now older than maxWait
  const second = apps[1]!.agent.get('/report').then((r) => r);
  await new Promise((r) => setTimeout(r, 100));
  open();
  const [a, b] = await Promise.all([first, second]);
  expect(state.calls).toBe(1);
  expect([a.headers['x-cache'], b.headers['x-cache']]).toEqual(['MISS', 'HIT']);
});
