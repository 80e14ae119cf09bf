/**
 * Issue 18 item 1 at the admin API's functions, on real servers: the health sampler claims each
 * sample slot so that one instance samples it (one INFO per node per interval in total, counted
 * with INFO commandstats on a server this file starts), appends capped, expiring points to the
 * first lock connection, and the view turns them into per-node series (CPU, ops, memory,
 * clients, network, hit ratio, evicted/expired per second). Cluster: every master and replica;
 * Sentinel: the master in use. When the lock connection does not answer, an instance samples on
 * its own and says so.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HEALTH_KEY_PREFIX, HealthSampler, deleteByPattern, healthSeries, healthView, protectedFamilies, type HealthPoint } from '../../src/admin-api/index.js';
import { createSuiteLog } from '../../src/core/logger.js';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger, type CapturedLogger } from '../helpers/logger.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';

const redis = inject('redis');
const makeRegistry = registriesClosedAfterEach();
let own: ServerHandle;
let direct: Redis;

beforeAll(async () => {
  own = await startStandalone({ args: ['--maxmemory', '64mb'] });
  direct = new Redis(own.url);
});
afterAll(async () => {
  direct?.disconnect();
  await own?.stop();
});

/** `cmdstat_info` calls on a server; the INFO that asks is counted from the next call on. */
async function infoCalls(client: Redis): Promise<number> {
  const text = await client.info('commandstats');
  return Number(/cmdstat_info:calls=(\d+)/.exec(text)?.[1] ?? 0);
}

async function ready(config: Parameters<typeof makeRegistry>[0], logger?: CapturedLogger): Promise<RedisRegistry> {
  const r = makeRegistry(config, logger ? { logger } : undefined);
  await r.waitUntilReady();
  return r;
}

const sampler = (registry: RedisRegistry, instance: string, intervalMs = 1000, log: CapturedLogger = captureLogger(), windowMs?: number) =>
  new HealthSampler({ registry, intervalMs, log: createSuiteLog(log, 'health'), instance, ...(windowMs ? { windowMs } : {}) });

/** The sample slot starting at least `ms` from now, as a time inside it. */
const slotTime = (intervalMs: number, ahead = 1) => (Math.floor(Date.now() / intervalMs) + ahead) * intervalMs + 1;

describe('one sampler per slot across instances', () => {
  it('three instances tick the same slots: each slot is sampled once, with one INFO per node', async () => {
    const name = randomPrefix('h1').replace(/[^A-Za-z0-9_-]/g, '_');
    const config = { connections: { [name]: { connection: own.url } } };
    const instances = await Promise.all(['a', 'b', 'c'].map(async (id) => sampler(await ready(config), `host-${id}:1`, 1000)));
    const before = await infoCalls(direct);
    const results: string[][] = [];
    // Slots far from the real clock: claims cannot collide with anything else.
    const base = Math.floor(Date.now() / 1000) * 1000 + 3_600_000;
    for (let i = 0; i < 5; i++) results.push(await Promise.all(instances.map((sample) => sample.tick(base + i * 1000 + 7))));
    const after = await infoCalls(direct);
    for (const r of results) expect(r.sort()).toEqual(['claimed-elsewhere', 'claimed-elsewhere', 'sampled']);
    // 5 slots, one node: 5 INFOs from the samplers, plus the first commandstats call.
    expect(after - before - 1).toBe(5);
    const points = (await direct.lrange(`${HEALTH_KEY_PREFIX}${name}`, 0, -1)).map((t) => JSON.parse(t) as HealthPoint);
    expect(points.map((p) => p.t)).toEqual([0, 1, 2, 3, 4].map((i) => base + i * 1000 + 7));
    expect(points.every((p) => p.n.length === 1 && p.n[0]!.a === `127.0.0.1:${own.port}`)).toBe(true);
    const pttl = await direct.pttl(`${HEALTH_KEY_PREFIX}${name}`);
    expect(pttl).toBeGreaterThan(15 * 60_000);
    expect(pttl).toBeLessThanOrEqual(15 * 60_000 + 2000);
    const stats = instances.map((sample) => sample.status);
    expect(stats.reduce((a, sample) => a + sample.samples, 0)).toBe(5);
    expect(stats.reduce((a, sample) => a + sample.claimedElsewhere, 0)).toBe(10);
    await direct.unlink(`${HEALTH_KEY_PREFIX}${name}`);
  });

  it('with their timers running, three instances sample at most once per interval in total', async () => {
    const name = randomPrefix('h2').replace(/[^A-Za-z0-9_-]/g, '_');
    const config = { connections: { [name]: { connection: own.url } } };
    const instances = await Promise.all(['a', 'b', 'c'].map(async (id) => sampler(await ready(config), `host-${id}:2`, 500)));
    const before = await infoCalls(direct);
    const start = Date.now();
    for (const sample of instances) sample.start();
    await new Promise((r) => setTimeout(r, 4000));
    for (const sample of instances) sample.stop();
    const end = Date.now();
    await new Promise((r) => setTimeout(r, 600)); // a tick that started before stop() finishes
    const calls = (await infoCalls(direct)) - before - 1;
    const slots = Math.floor(end / 500) - Math.floor(start / 500) + 1;
    expect(calls).toBeLessThanOrEqual(slots);
    expect(calls).toBeGreaterThanOrEqual(3); // it did sample (a loaded machine may miss a few slots)
    const points = (await direct.lrange(`${HEALTH_KEY_PREFIX}${name}`, 0, -1)).map((t) => JSON.parse(t) as HealthPoint);
    expect(points.length).toBe(calls);
    const slotsSampled = points.map((p) => Math.floor(p.t / 500));
    expect(new Set(slotsSampled).size).toBe(points.length);
    await direct.unlink(`${HEALTH_KEY_PREFIX}${name}`);
  });

  it('two connections to one server cost one INFO per slot', async () => {
    const registry = await ready({ connections: { one: { connection: own.url }, two: { connection: `${own.url}/2` } } });
    const sample = sampler(registry, 'host-x:3', 1000);
    const before = await infoCalls(direct);
    expect(await sample.tick(slotTime(1000, 7200))).toBe('sampled');
    expect((await infoCalls(direct)) - before - 1).toBe(1);
    expect(await direct.llen(`${HEALTH_KEY_PREFIX}one`)).toBeGreaterThanOrEqual(1);
    expect(await direct.llen(`${HEALTH_KEY_PREFIX}two`)).toBeGreaterThanOrEqual(1);
    await direct.unlink(`${HEALTH_KEY_PREFIX}one`, `${HEALTH_KEY_PREFIX}two`);
  });
});

describe('the series', () => {
  it('rates over the interval from consecutive points: ops, hit ratio, network, CPU; gauges as sampled', async () => {
    const registry = await ready({ connections: { main: { connection: own.url } } });
    const sample = sampler(registry, 'host-r:4', 1000);
    const p = randomPrefix('hs');
    await direct.unlink(`${HEALTH_KEY_PREFIX}main`);
    const t0 = slotTime(1000, 10_000);
    expect(await sample.tick(t0)).toBe('sampled');
    // 300 hits, 100 misses, 400 writes on a server nothing else reads from.
    await direct.mset(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`${p}k${i}`, 'x'.repeat(100)])));
    const pipe = direct.pipeline();
    for (let i = 0; i < 300; i++) pipe.get(`${p}k${i}`);
    for (let i = 0; i < 100; i++) pipe.get(`${p}missing${i}`);
    for (let i = 0; i < 400; i++) pipe.set(`${p}w${i}`, 'y');
    await pipe.exec();
    await new Promise((r) => setTimeout(r, 300));
    expect(await sample.tick(t0 + 1000)).toBe('sampled');
    const view = await healthView(registry.get('main'), sample, t0 + 1000);
    expect(view).toMatchObject({ connection: 'main', topology: 'standalone', enabled: true, source: 'redis', intervalMs: 1000, windowMs: 15 * 60_000 });
    expect(view.t).toEqual([t0, t0 + 1000]);
    expect(view.sampledBy).toEqual(['host-r:4', 'host-r:4']);
    expect(view.nodes).toHaveLength(1);
    const node = view.nodes[0]!;
    expect(node.address).toBe(`127.0.0.1:${own.port}`);
    expect(node.role).toBe('master');
    // The first point has no previous one: gauges only.
    expect(node.opsPerSec[0]).toBeNull();
    // 300 hits, 100 misses, and the EXISTS of the second tick's slot claim (a miss, on this server: it is the lock connection)
    expect(node.hitRatio[1]).toBeCloseTo(300 / 401, 4);
    expect(node.opsPerSec[1]).toBeGreaterThan(800 / 2); // > 800 commands in well under 2 s of server time
    expect(node.netInBytesPerSec[1]).toBeGreaterThan(30_000 / 2); // the MSET alone sends 30 KB
    expect(node.cpuPercent[1]).toBeGreaterThanOrEqual(0);
    expect(node.cpuPercent[1]).toBeLessThanOrEqual(400);
    expect(node.maxMemoryBytes[1]).toBe(64 * 1024 * 1024);
    expect(node.usedMemoryBytes[1]).toBeGreaterThan(node.usedMemoryBytes[0]!);
    expect(node.rssBytes[1]).toBeGreaterThan(0);
    expect(node.fragmentation[1]).toBeGreaterThan(0);
    expect(node.connectedClients[1]).toBeGreaterThanOrEqual(2);
    expect(node.blockedClients[1]).toBe(0);
    expect(node.evictedPerSec[1]).toBe(0);
    expect(node.expiredPerSec[1]).toBeGreaterThanOrEqual(0); // the slot claims of the tests above expire on this server
    expect(node.errors).toEqual([null, null]);
    await direct.unlink(`${HEALTH_KEY_PREFIX}main`);
  });

  it('is capped to the window and a point older than it only serves the rates of the next', async () => {
    const registry = await ready({ connections: { capped: { connection: own.url } } });
    const sample = sampler(registry, 'host-w:5', 1000, captureLogger(), 3000);
    expect(sample.maxPoints).toBe(4);
    const t0 = slotTime(1000, 20_000);
    for (let i = 0; i < 7; i++) expect(await sample.tick(t0 + i * 1000)).toBe('sampled');
    expect(await direct.llen(`${HEALTH_KEY_PREFIX}capped`)).toBe(4);
    const view = await healthView(registry.get('capped'), sample, t0 + 6000);
    // The oldest kept point (t0 + 3000) is as old as the window: not shown, it gives the next one its rates.
    expect(view.t).toEqual([t0 + 4000, t0 + 5000, t0 + 6000]);
    expect(
      view.nodes[0]!.opsPerSec.every((v) => v !== null && v > 0),
      JSON.stringify(view.nodes[0]),
    ).toBe(true);
    await direct.unlink(`${HEALTH_KEY_PREFIX}capped`);
  });

  it('a restart (new run_id) or a counter going back gives no rate for that point', () => {
    const node = (st: number, id: string, cmd: number) => ({ a: 'n:1', r: 'm' as const, st, id, cpu: 1, cmd, h: 0, m: 0 });
    const points: HealthPoint[] = [
      { t: 1000, by: 'x', n: [node(1000, 'aaa', 100)] },
      { t: 2000, by: 'x', n: [node(2000, 'aaa', 300)] },
      { t: 3000, by: 'x', n: [node(3000, 'bbb', 10)] },
      { t: 4000, by: 'x', n: [{ a: 'n:1', e: 'connection lost' }] },
      { t: 5000, by: 'x', n: [node(5000, 'bbb', 50)] },
    ];
    const { nodes } = healthSeries(points, 0);
    expect(nodes[0]!.opsPerSec).toEqual([null, 200, null, null, 20]);
    expect(nodes[0]!.errors).toEqual([null, null, null, 'connection lost', null]);
    expect(nodes[0]!.hitRatio).toEqual([null, null, null, null, null]);
  });

  it('cluster: every master and replica, stored on the lock connection', async () => {
    const name = 'clu';
    const registry = await ready({ connections: { locks: { connection: own.url }, [name]: { connection: { nodes: redis.cluster.nodes } } } });
    // ioredis links replicas lazily: the first sample may miss one that has no link yet.
    const sample = sampler(registry, 'host-c:6', 1000);
    const t0 = slotTime(1000, 30_000);
    await sample.tick(t0);
    await sample.tick(t0 + 1000);
    const view = await healthView(registry.get(name), sample, t0 + 1000);
    expect(view.topology).toBe('cluster');
    expect(view.nodes.map((n) => n.role)).toEqual(['master', 'master', 'master', 'replica', 'replica', 'replica']);
    const ports = new Set(redis.cluster.nodes.map((n) => `127.0.0.1:${n.port}`));
    for (const n of view.nodes) {
      expect(ports.has(n.address)).toBe(true);
      expect(n.usedMemoryBytes[1]).toBeGreaterThan(0);
      expect(n.opsPerSec[1]).not.toBeNull();
    }
    expect(await direct.llen(`${HEALTH_KEY_PREFIX}${name}`)).toBe(2);
    await direct.unlink(`${HEALTH_KEY_PREFIX}${name}`, `${HEALTH_KEY_PREFIX}locks`);
  });

  it('sentinel: the master in use', async () => {
    const registry = await ready({
      connections: { locks: { connection: own.url }, ha: { connection: { sentinels: redis.sentinel.sentinels, name: redis.sentinel.name } } },
    });
    const sample = sampler(registry, 'host-s:7', 1000);
    const t0 = slotTime(1000, 40_000);
    await sample.tick(t0);
    const view = await healthView(registry.get('ha'), sample, t0);
    expect(view.topology).toBe('sentinel');
    expect(view.nodes).toHaveLength(1);
    const master = new Redis({ sentinels: redis.sentinel.sentinels, name: redis.sentinel.name, lazyConnect: true });
    try {
      await master.connect();
      expect(view.nodes[0]!.address).toBe(`${master.stream.remoteAddress}:${master.stream.remotePort}`);
    } finally {
      master.disconnect();
    }
    expect(view.nodes[0]!.role).toBe('master');
    await direct.unlink(`${HEALTH_KEY_PREFIX}ha`, `${HEALTH_KEY_PREFIX}locks`);
  });
});

describe('when the lock connection does not answer', () => {
  it('an instance samples on its own, keeps the points in memory, says so once, and shares again when it is back', async () => {
    const lockServer = await startStandalone();
    try {
      const log = captureLogger();
      const registry = await ready({
        settings: { lockAcquireTimeout: 500 },
        connections: { locks: { connection: lockServer.url, readyTimeout: 500 }, data: { connection: own.url } },
      });
      const sample = sampler(registry, 'host-l:8', 1000, log);
      await lockServer.kill('SIGKILL');
      const t0 = slotTime(1000, 50_000);
      expect(await sample.tick(t0)).toBe('local');
      expect(await sample.tick(t0 + 1000)).toBe('local');
      expect(sample.status.mode).toBe('local');
      expect(log.of('warn').filter((l) => l.includes('health sampler'))).toHaveLength(1);
      expect(log.of('warn')[0]).toMatch(/this instance samples on its own/);
      const view = await healthView(registry.get('data'), sample, t0 + 1000);
      expect(view.source).toBe('local');
      expect(view.sharedError).toBeTruthy();
      expect(view.t).toEqual([t0, t0 + 1000]);
      expect(view.nodes[0]!.address).toBe(`127.0.0.1:${own.port}`);
      expect(view.nodes[0]!.opsPerSec[1]).not.toBeNull();
      // the dead connection itself is a point with its error
      const dead = await healthView(registry.get('locks'), sample, t0 + 1000);
      expect(dead.nodes[0]!.errors[0]).toMatch(/not ready/);

      await lockServer.restart();
      await registry.get('locks').waitUntilReady(10_000);
      expect(await sample.tick(t0 + 2000)).toBe('sampled');
      expect(sample.status.mode).toBe('shared');
      expect(log.of('info').some((l) => /health sampler: the lock connections answer again/.test(l))).toBe(true);
      expect((await healthView(registry.get('data'), sample, t0 + 2000)).source).toBe('redis');
    } finally {
      await lockServer.stop();
    }
  });
});

describe('settings', () => {
  it('healthInterval below 1000 ms or a non-boolean healthSampling stops boot naming the path', () => {
    expect(() => createRedisRegistry({ settings: { healthInterval: 10 } })).toThrow(/redis\.settings\.healthInterval.*10.*>= 1000/s);
    expect(() => createRedisRegistry({ settings: { healthSampling: 'yes' as never } })).toThrow(/redis\.settings\.healthSampling/);
  });
});

describe('protection', () => {
  it('the series are a protected family of delete by pattern', async () => {
    const registry = await ready({ connections: { main: { connection: own.url } } });
    const families = protectedFamilies({}, undefined);
    expect(families.find((f) => f.prefix === HEALTH_KEY_PREFIX)?.family).toBe('health series');
    await direct.rpush(`${HEALTH_KEY_PREFIX}protected-test`, '{}');
    const refused = await deleteByPattern(registry.get('main'), { pattern: 'redis-suite:*', confirm: 'redis-suite:*' }, { protected: families }).catch(
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ status: 409, details: { protected: [{ family: 'health series', prefix: HEALTH_KEY_PREFIX, named: false }] } });
    expect(await direct.exists(`${HEALTH_KEY_PREFIX}protected-test`)).toBe(1);
    await direct.unlink(`${HEALTH_KEY_PREFIX}protected-test`);
  });
});
