import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  LockBusyError,
  LockLostError,
  LockTimeoutError,
  LockUnavailableError,
  createRedisRegistry,
  type RedisRegistry,
} from '../../src/index.js';
import { LOCK_KEY_PREFIX } from '../../src/core/locks.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';
import { captureLogger, waitFor } from '../helpers/logger.js';

const redis = inject('redis');
const make = registriesClosedAfterEach();

const standalone = () => make({ settings: { lockTTL: 1000 }, connections: { main: { connection: redis.standalone.url } } });

describe('locks on one connection', () => {
  it('acquire, busy while held, release, and a growing fencing token', async () => {
    const reg = standalone();
    await reg.waitUntilReady();
    expect(reg.lockStats).toBeNull(); // reading the counters creates no lock service
    const r = randomPrefix('lock');
    const a = await reg.locks.acquire(r);
    await expect(reg.locks.acquire(r, { wait: false })).rejects.toBeInstanceOf(LockBusyError);
    expect(reg.lockStats).toEqual({ acquired: 1, busy: 1, timedOut: 0, unavailable: 0, lost: 0 });
    const pttl = await reg.client('main').pttl(`${LOCK_KEY_PREFIX}${r}`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(1000);
    await a.release();
    expect(await reg.client('main').exists(`${LOCK_KEY_PREFIX}${r}`)).toBe(0);
    const b = await reg.locks.acquire(r, { wait: false });
    expect(b.fencingToken).toBe(a.fencingToken + 1);
    await b.release();
  });

  it('using(): extended while the function runs, released after; others are kept out', async () => {
    const reg = standalone();
    await reg.waitUntilReady();
    const r = randomPrefix('using');
    let busySeen = 0;
    const result = await reg.locks.using(
      r,
      async ({ signal, fencingToken }) => {
        expect(fencingToken).toBeGreaterThan(0);
        // run 3x the TTL: without extension the lock would expire twice
        const end = Date.now() + 900;
        while (Date.now() < end) {
          await expect(reg.locks.acquire(r, { wait: false })).rejects.toBeInstanceOf(LockBusyError);
          busySeen++;
          await new Promise((res) => setTimeout(res, 100));
        }
        expect(signal.aborted).toBe(false);
        return 'done';
      },
      { ttl: 300 },
    );
    expect(result).toBe('done');
    expect(busySeen).toBeGreaterThanOrEqual(5);
    expect(await reg.client('main').exists(`${LOCK_KEY_PREFIX}${r}`)).toBe(0);
  });

  it('the abort signal fires with LockLostError when the lock is lost', async () => {
    const reg = standalone();
    await reg.waitUntilReady();
    const r = randomPrefix('lost');
    const lock = await reg.locks.acquire(r, { ttl: 300 });
    // someone else's hands on the key (e.g. a failover that lost it): the next extension fails
    await reg.client('main').set(`${LOCK_KEY_PREFIX}${r}`, 'stolen', 'PX', 5000);
    await waitFor(() => lock.signal.aborted, 3000, 'abort');
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(reg.lockStats).toMatchObject({ acquired: 1, lost: 1 });
    await lock.release();
    // release is token-checked: the other holder's key is untouched
    expect(await reg.client('main').get(`${LOCK_KEY_PREFIX}${r}`)).toBe('stolen');
  });

  it('every acquire is bounded: waiting for a held lock ends with LockTimeoutError', async () => {
    const reg = standalone();
    await reg.waitUntilReady();
    const r = randomPrefix('bound');
    const held = await reg.locks.acquire(r, { ttl: 5000 });
    const started = performance.now();
    await expect(reg.locks.acquire(r, { acquireTimeout: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(performance.now() - started).toBeLessThan(1500);
    expect(reg.lockStats).toMatchObject({ acquired: 1, timedOut: 1 });
    await held.release();
  });

  it('multi-resource locks on a Cluster connection (one hash tag, no CROSSSLOT)', async () => {
    const reg = make({ settings: { redlockConnections: ['cl'] }, connections: { cl: { connection: { nodes: redis.cluster.nodes } } } });
    await reg.waitUntilReady();
    const [x, y] = [randomPrefix('mx'), randomPrefix('my')];
    const both = await reg.locks.acquire([x, y]);
    expect(Object.keys(both.fencingTokens)).toEqual([x, y]);
    await expect(reg.locks.acquire(y, { wait: false })).rejects.toBeInstanceOf(LockBusyError);
    await both.release();
    const single = await reg.locks.acquire(y, { wait: false });
    await single.release();
  });

  it('a Sentinel connection as the lock connection', async () => {
    const reg = make({ connections: { ha: { connection: { sentinels: redis.sentinel.sentinels, name: redis.sentinel.name } } } });
    await reg.waitUntilReady();
    expect(reg.locks.quorum).toEqual(['ha']);
    const r = randomPrefix('se');
    await reg.locks.using(r, async () => {
      await expect(reg.locks.acquire(r, { wait: false })).rejects.toBeInstanceOf(LockBusyError);
    });
  });
});

describe('a quorum of three independent servers', () => {
  let servers: ServerHandle[] = [];
  beforeAll(async () => {
    servers = await Promise.all([startStandalone(), startStandalone(), startStandalone()]);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });
  // each test starts with all three up, whatever the previous one left
  afterEach(async () => {
    await Promise.all(servers.filter((s) => !s.isAlive()).map((s) => s.restart()));
  });

  const quorumRegistry = () =>
    make({
      settings: { redlockConnections: ['a', 'b', 'c'], lockAcquireTimeout: 1500, redlockConfig: { retryCount: 2, retryDelay: 100 } },
      connections: Object.fromEntries(['a', 'b', 'c'].map((n, i) => [n, { connection: servers[i]!.url, requestTimeout: 300 }])),
    });

  it('keeps locking with one server down, with fencing tokens still growing', async () => {
    const reg = quorumRegistry();
    await reg.waitUntilReady();
    const r = randomPrefix('q');
    const first = await reg.locks.acquire(r, { wait: false });
    await first.release();
    await servers[0]!.kill('SIGKILL');
    const second = await reg.locks.acquire(r, { wait: false });
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    await second.release();
    await servers[0]!.restart();
    await waitFor(() => reg.get('a').isReady, 10_000, 'a back');
    // a's counter missed a token: the next one still goes up
    const third = await reg.locks.acquire(r, { wait: false });
    expect(third.fencingToken).toBeGreaterThan(second.fencingToken);
    await third.release();
  });

  it('with two of three down, acquire fails within its bound (no hang)', async () => {
    const reg = quorumRegistry();
    await reg.waitUntilReady();
    await Promise.all([servers[1]!.kill('SIGKILL'), servers[2]!.kill('SIGKILL')]);
    const started = performance.now();
    const err = await reg.locks.acquire(randomPrefix('q2')).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(err).toBeInstanceOf(LockUnavailableError);
    expect((err as Error).message).toMatch(/2 of 3 lock connections failed/);
    expect(reg.lockStats).toMatchObject({ acquired: 0, unavailable: 1 });
    await Promise.all([servers[1]!.restart(), servers[2]!.restart()]);
  });

  it('a split vote (two members, one holding a foreign lock) is bounded too', async () => {
    const reg = make({
      settings: { redlockConnections: ['a', 'b'], lockAcquireTimeout: 800 },
      connections: { a: { connection: servers[0]!.url }, b: { connection: servers[1]!.url } },
    });
    await reg.waitUntilReady();
    const r = randomPrefix('split');
    await reg.client('b').set(`${LOCK_KEY_PREFIX}${r}`, 'someone-else', 'PX', 10_000);
    const started = performance.now();
    const err = await reg.locks.acquire(r).catch((e: unknown) => e);
    // the 800 ms bound, plus removing our vote from both members (each bounded by requestTimeout)
    expect(performance.now() - started).toBeLessThan(3000);
    expect([LockTimeoutError, LockBusyError].some((t) => err instanceof t)).toBe(true);
    // nothing is left behind on the member that voted for us
    await waitFor(async () => (await reg.client('a').exists(`${LOCK_KEY_PREFIX}${r}`)) === 0, 3000, 'partial lock released');
  });
});
