/**
 * The admin views on real Redis: server INFO per node (standalone, Cluster), the connections view
 * with the features that use each connection, the cron run history shared across instances, and
 * the cache tags with their entry counts and purge.
 */
import { CounterRegistry } from '../../src/core/counters.js';
import Koa from 'koa';
import request from 'supertest';
import { agentFor } from '../cache/helpers.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cacheView, connectionsView, cronView, purgeCache, serverView, statsView, AdminApiError } from '../../src/admin-api/index.js';
import { CronHistory } from '../../src/core/cron-history.js';
import { createSuiteLog } from '../../src/core/logger.js';
import { lazyConnection } from '../../src/core/resolve.js';
import { trackCache } from '../../src/middlewares/cache/invalidation.js';
import { CronGuard, RedisSessionStore, createApolloCache, rateLimit, responseCache, type RedisRegistry } from '../../src/index.js';
import { randomPrefix, serverUnderTest, startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';

const redis = inject('redis');
const makeRegistry = registriesClosedAfterEach();

async function ready(config: Parameters<typeof makeRegistry>[0]): Promise<RedisRegistry> {
  const r = makeRegistry(config);
  await r.waitUntilReady();
  return r;
}

describe('server view', () => {
  let own: ServerHandle;
  beforeAll(async () => {
    own = await startStandalone();
  });
  afterAll(async () => {
    await own?.stop();
  });

  it("standalone: product, version, memory, traffic and the keys of the connection's own database", async () => {
    const registry = await ready({ connections: { main: { connection: `${own.url}/3` } } });
    const c = registry.client('main');
    await Promise.all(Array.from({ length: 7 }, (_, i) => c.set(`k${i}`, 'v')));
    await c.get('k1');
    await c.get('missing');
    const view = await serverView(registry.get('main'));
    expect(view).toMatchObject({ connection: 'main', topology: 'standalone' });
    expect(Date.parse(view.fetchedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(view.nodes).toHaveLength(1);
    const [node] = view.nodes;
    expect(node!.address).toBe(`127.0.0.1:${own.port}`);
    expect(node!.role).toBe('master');
    const info = node!.info!;
    const expected = serverUnderTest();
    expect(info).toMatchObject({
      product: expected.product,
      version: expected.version,
      mode: 'standalone',
      role: 'master',
      keys: 7,
      connectedReplicas: 0,
      evictedKeys: 0,
    });
    expect(info.keyspaceHits).toBeGreaterThanOrEqual(1);
    expect(info.keyspaceMisses).toBeGreaterThanOrEqual(1);
    expect(info.hitRatio).toBeCloseTo(info.keyspaceHits / (info.keyspaceHits + info.keyspaceMisses), 10);
    expect(info.usedMemoryBytes).toBeGreaterThan(0);
    expect(info.connectedClients).toBeGreaterThanOrEqual(1);
    expect(typeof info.opsPerSec).toBe('number');
  });

  it('cluster: every master and replica with its own INFO; replicas name their master', async () => {
    const registry = await ready({ connections: { c: { connection: { nodes: redis.cluster.nodes } } } });
    const view = await serverView(registry.get('c'));
    expect(view.topology).toBe('cluster');
    expect(view.nodes).toHaveLength(6);
    const masters = view.nodes.filter((n) => n.role === 'master');
    const replicas = view.nodes.filter((n) => n.role === 'replica');
    expect(masters).toHaveLength(3);
    expect(replicas).toHaveLength(3);
    const masterAddresses = new Set(masters.map((m) => m.address));
    for (const m of masters) expect(m.info).toMatchObject({ mode: 'cluster', role: 'master', connectedReplicas: 1 });
    for (const r of replicas) {
      expect(r.info?.role, JSON.stringify(r)).toBe('slave');
      expect(masterAddresses.has(r.info!.masterAddress!)).toBe(true);
    }
  });
});

describe('connections view', () => {
  it('lists state, latency, nodes and the features that bound to each connection', async () => {
    const registry = await ready({
      settings: { redlockConnections: ['locks'] },
      connections: {
        locks: { connection: redis.standalone.url },
        web: { connection: redis.standalone.url },
        c: { connection: { nodes: redis.cluster.nodes } },
        idle: { connection: redis.standalone.url },
      },
    });
    expect((await connectionsView(registry)).every((v) => v.features.length === 0)).toBe(true);

    void registry.locks; // the lock service binds to its quorum
    rateLimit({ registry, connection: 'web', keyPrefix: randomPrefix('rl') }); // binds in the factory
    const session = new RedisSessionStore({ registry, connection: 'web', prefix: randomPrefix('sess') });
    await session.get('nobody'); // binds on first use
    const cache = responseCache({ registry, connection: 'c', prefix: randomPrefix('cache'), routes: ['/x'], logger: captureLogger() });
    const app = new Koa().use(cache).use((ctx) => void (ctx.body = { ok: true }));
    await request(app.callback()).get('/x').expect(200);
    const apollo = createApolloCache({ registry, connection: 'c', namespace: randomPrefix('apq') });
    await apollo.get('nothing');
    lazyConnection({ registry, connection: 'idle' }, 'a test')(); // no feature named: not marked

    const views = Object.fromEntries((await connectionsView(registry)).map((v) => [v.name, v]));
    expect(views.locks!.features).toEqual(['locks']);
    expect(views.web!.features).toEqual(['rateLimit', 'session']);
    expect(views.c!.features).toEqual(['cache', 'apollo']);
    expect(views.idle!.features).toEqual([]);
    expect(views.web).toMatchObject({
      topology: 'standalone',
      state: 'ready',
      ready: true,
      nodes: [{ address: `127.0.0.1:${redis.standalone.port}`, state: 'ready' }],
    });
    expect(views.web!.pingMs).toBeGreaterThanOrEqual(0);
    expect(views.c!.nodes.filter((n) => n.role === 'master')).toHaveLength(3);
    expect(views.c!.nodes).toHaveLength(6);
  });

  it('a connection that is down shows its state and a redacted last error, never the password', async () => {
    const secret = 'Views-Canary-Pass-9931';
    const registry = makeRegistry({ connections: { gone: { connection: `redis://:${secret}@127.0.0.1:1`, readyTimeout: 300 } } });
    await registry.waitUntilReady();
    const [view] = await connectionsView(registry);
    expect(view).toMatchObject({ name: 'gone', ready: false, pingMs: null, endpoint: expect.stringContaining(':***@') });
    expect(JSON.stringify(view)).not.toContain(secret);
  });
});

describe('cron history and view', () => {
  function instance(registry: RedisRegistry, prefix: string, id: string, historyRegistry = registry) {
    const log = createSuiteLog(captureLogger(), 'cron');
    const history = new CronHistory({ connection: () => historyRegistry.get('main'), log, prefix, instance: id });
    return new CronGuard({ locks: registry.locks, log, lockTTL: 2000, history });
  }
  type Wrapped = { task: (...args: unknown[]) => Promise<void> };

  it('records each run (tick, start, duration, result, instance) in Redis; every instance sees the last one', async () => {
    const registry = await ready({ connections: { main: { connection: redis.standalone.url } } });
    const other = await ready({ connections: { main: { connection: redis.standalone.url } } });
    const prefix = randomPrefix('cronlast');
    const a = instance(registry, prefix, 'host-a:1');
    const b = instance(other, prefix, 'host-b:2');
    const name = randomPrefix('task');
    const failing = randomPrefix('task');
    const tasks: Record<string, unknown> = {};
    const onA = a.wrap(name, { task: async () => undefined, options: { rule: '* * * * *' } }, tasks) as Wrapped;
    b.wrap(name, { task: async () => undefined, options: { rule: '* * * * *' } }, tasks);
    const failA = a.wrap(
      failing,
      {
        task: async () => {
          throw new Error('boom at redis://:pw@h:1');
        },
        options: { rule: '* * * * *' },
      },
      tasks,
    ) as Wrapped;
    b.wrap(failing, { task: async () => undefined, options: { rule: '* * * * *' } }, tasks);

    const tick = new Date(Date.UTC(2031, 0, 1, 12, 0, 0));
    await onA.task({}, tick);
    await failA.task({}, tick);

    const seenByB = await cronView(b);
    expect(seenByB.enabled).toBe(true);
    const byName = Object.fromEntries(seenByB.tasks.map((t) => [t.name, t]));
    expect(byName[name]).toMatchObject({ running: false, lastRunSource: 'redis', lastRun: { tick: tick.toISOString(), ok: true, instance: 'host-a:1' } });
    expect(byName[name]!.lastRun!.durationMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(byName[name]!.lastRun!.startedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(byName[failing]!.lastRun).toMatchObject({ ok: false, instance: 'host-a:1', error: 'boom at redis://:***@h:1' });

    // one small hash per task, with a TTL
    const c = registry.client('main');
    expect(await c.hget(`${prefix}${name}`, 'instance')).toBe('host-a:1');
    const ttl = await c.pttl(`${prefix}${name}`);
    expect(ttl).toBeGreaterThan(6 * 24 * 3600_000);
    await c.unlink(`${prefix}${name}`, `${prefix}${failing}`);
  });

  it('a history that cannot be written never fails the task; the view falls back to this instance', async () => {
    const registry = await ready({ connections: { main: { connection: redis.standalone.url } } });
    const down = makeRegistry({ connections: { main: { connection: 'redis://127.0.0.1:1', readyTimeout: 200 } } });
    await down.waitUntilReady();
    const guard = instance(registry, randomPrefix('cronlast'), 'host-a:1', down);
    let ran = 0;
    const name = randomPrefix('task');
    const wrapped = guard.wrap(name, { task: async () => void ran++, options: { rule: '* * * * *' } }, {}) as Wrapped;
    await wrapped.task({}, new Date(Date.UTC(2031, 0, 1, 12, 1, 0)));
    expect(ran).toBe(1);
    const view = await cronView(guard);
    expect(view.historyError).toMatch(/not ready/);
    expect(view.tasks[0]).toMatchObject({ name, lastRunSource: 'local', lastRun: { ok: true, tick: '2031-01-01T12:01:00.000Z' } });
    expect(view.tasks[0]!.lastRun!.instance).toMatch(/:\d+$/);
  });

  it('without the guard the view says so', async () => {
    expect(await cronView(undefined)).toEqual({ enabled: false, tasks: [] });
  });
});

describe('cache view', () => {
  it.each([
    ['standalone', () => redis.standalone.url],
    ['cluster', () => ({ nodes: redis.cluster.nodes })],
  ])('on %s: tags with entry counts; purge one tag, then all', async (_kind, connection) => {
    const registry = await ready({ connections: { cache: { connection: connection() as never, requestTimeout: 5000 } } });
    const host = {};
    expect(await cacheView(host)).toEqual({ enabled: false, tags: [] });
    const mw = responseCache({
      registry,
      connection: 'cache',
      prefix: randomPrefix('cache'),
      logger: captureLogger(),
      // a loaded 2-core machine must not turn reads into misses (the default read bound is 50 ms)
      readTimeout: 5000,
      writeTimeout: 5000,
      routes: [
        { path: '/a/:id', tags: ['a'] },
        { path: '/b/:id', tags: ['b', 'shared'] },
      ],
    });
    trackCache(host, mw.cache);
    const app = new Koa().use(mw).use((ctx) => void (ctx.body = { path: ctx.path }));
    // one listening server: every request carries the same Host, which plain-Koa cache keys cover
    const agent = agentFor(app);
    for (let i = 0; i < 3; i++) await agent.get(`/a/${i}`).expect(200);
    for (let i = 0; i < 2; i++) await agent.get(`/b/${i}`).expect(200);

    expect(await cacheView(host)).toEqual({
      enabled: true,
      connection: 'cache',
      tags: [
        { tag: 'a', entries: 3 },
        { tag: 'b', entries: 2 },
        { tag: 'shared', entries: 2 },
      ],
    });
    expect(await purgeCache(host, { tag: 'a' })).toMatchObject({ purged: 3 });
    expect((await cacheView(host)).tags[0]).toEqual({ tag: 'a', entries: 0 });
    expect((await agent.get('/a/0')).headers['x-cache']).toBe('MISS');
    expect((await agent.get('/b/0')).headers['x-cache']).toBe('HIT');

    const bad = await purgeCache(host, { tag: 'nope' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(AdminApiError);
    expect((bad as AdminApiError).message).toMatch(/^tag: .*"a", "b", "shared"/);
    await expect(purgeCache(host, {})).rejects.toThrow(/^tag: /);

    // b's entries are in two tag sets: purging all removes each key once per tag that still holds it
    const all = await purgeCache(host, { all: true });
    expect(all.purged).toBeGreaterThanOrEqual(2);
    expect((await cacheView(host)).tags.every((t) => t.entries === 0)).toBe(true);
    expect((await agent.get('/b/1')).headers['x-cache']).toBe('MISS');

    // this instance's counters, summed over the cache middlewares on the registry's connections
    const stats = statsView(undefined, 'host-a:1', { counters: registry.counters, lockStats: null });
    expect(stats).toMatchObject({ instance: 'host-a:1', cron: null, cache: { hits: 1, misses: 7, purges: 4 } });
    // nothing registered: zeros for rate limit and sessions, null for Apollo
    expect(stats.rateLimit).toEqual({ passed: 0, limited: 0, delayed: 0, storeErrors: 0, failedOpen: 0, failedClosed: 0, limitedInMemory: 0 });
    expect(stats.sessions).toEqual({ loaded: 0, missing: 0, saved: 0, destroyed: 0, corrupt: 0, failures: 0 });
    expect(stats.apollo).toBeNull();
    expect(stats.locks).toBeNull();
    // the registry sums each feature's parts
    const counters = new CounterRegistry();
    counters.register('rateLimit', () => ({ passed: 3, limited: 1 }));
    counters.register('rateLimit', () => ({ passed: 2, storeErrors: 1 }));
    counters.register('session', () => ({ saved: 4 }));
    const summed = statsView(undefined, 'x', { counters, lockStats: { acquired: 2, busy: 1, timedOut: 0, unavailable: 0, lost: 0 } });
    expect(summed.rateLimit).toMatchObject({ passed: 5, limited: 1, storeErrors: 1, delayed: 0 });
    expect(summed.sessions).toMatchObject({ saved: 4, loaded: 0 });
    expect(summed.locks).toMatchObject({ acquired: 2, busy: 1 });
    expect(statsView(undefined, 'x', { counters, lockStats: null }).cache).toBeNull();
  });
});
