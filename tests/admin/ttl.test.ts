/**
 * Issue 18 item 4 at the admin API's functions: set or remove one key's TTL; a key of the
 * suite's own state only when its family's prefix is confirmed. Standalone and the shared
 * Cluster (keys under a random prefix).
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MAX_TTL_MS, protectedFamilies, setKeyTtl } from '../../src/admin-api/index.js';
import { LOCK_KEY_PREFIX, type RedisConnection } from '../../src/index.js';
import { randomPrefix } from '../harness/servers.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';

const redis = inject('redis');
const makeRegistry = registriesClosedAfterEach();
const p = randomPrefix('ttl');
let standalone: Redis;
let cluster: Cluster;

beforeAll(() => {
  standalone = new Redis(redis.standalone.url);
  cluster = new Cluster(redis.cluster.nodes);
});
afterAll(async () => {
  for (const client of [standalone, cluster]) {
    await Promise.all([`${p}k`, `sess:${p}`, `${LOCK_KEY_PREFIX}${p}`].map((k) => client.unlink(k)));
    client.disconnect();
  }
});

async function connection(conn: unknown): Promise<RedisConnection> {
  const registry = makeRegistry({ connections: { main: { connection: conn as never } } });
  await registry.waitUntilReady();
  return registry.get('main');
}

describe.each([
  ['standalone', () => redis.standalone.url, () => standalone as Redis | Cluster],
  ['cluster', () => ({ nodes: redis.cluster.nodes }), () => cluster as Redis | Cluster],
])('TTL edit on %s', (_kind, target, client) => {
  it('sets a TTL (PEXPIRE), removes it (PERSIST), and says when there was nothing to change', async () => {
    const conn = await connection(target());
    const c = client();
    await c.set(`${p}k`, 'v');
    const set = await setKeyTtl(conn, { key: `${p}k`, ttlMs: 90_000 });
    expect(set).toMatchObject({ key: `${p}k`, requested: 90_000, changed: true });
    expect(set.ttlMs).toBeGreaterThan(85_000);
    const pttl = await c.pttl(`${p}k`);
    expect(pttl).toBeGreaterThan(85_000);
    expect(pttl).toBeLessThanOrEqual(90_000);
    expect(await setKeyTtl(conn, { key: `${p}k`, ttlMs: null })).toEqual({ key: `${p}k`, requested: null, ttlMs: -1, changed: true });
    expect(await c.pttl(`${p}k`)).toBe(-1);
    expect(await setKeyTtl(conn, { key: `${p}k`, ttlMs: -1 })).toEqual({ key: `${p}k`, requested: null, ttlMs: -1, changed: false });
  });

  it('404 for a missing key, 400 for a bad TTL', async () => {
    const conn = await connection(target());
    await expect(setKeyTtl(conn, { key: `${p}missing`, ttlMs: 1000 })).rejects.toMatchObject({ status: 404, message: expect.stringMatching(/^key: no key/) });
    await expect(setKeyTtl(conn, { key: `${p}missing`, ttlMs: null })).rejects.toMatchObject({ status: 404 });
    for (const ttlMs of [0, -5, 1.5, '1000', MAX_TTL_MS + 1, undefined]) {
      await expect(setKeyTtl(conn, { key: `${p}k`, ttlMs })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/^ttlMs: /) });
    }
    await expect(setKeyTtl(conn, { ttlMs: 1000 })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/^key: /) });
  });

  it("a session or a lock only with its family's prefix confirmed", async () => {
    const conn = await connection(target());
    const c = client();
    const families = protectedFamilies({}, undefined);
    await c.set(`sess:${p}`, '{}', 'PX', 60_000);
    await c.set(`${LOCK_KEY_PREFIX}${p}`, 'token', 'PX', 60_000);
    const refused = await setKeyTtl(conn, { key: `sess:${p}`, ttlMs: null }, families).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 409, details: { protected: [{ family: 'sessions', prefix: 'sess:', named: true }] } });
    expect((refused as Error).message).toContain('confirmProtected: "sess:"');
    expect(await c.pttl(`sess:${p}`)).toBeGreaterThan(0);
    await expect(setKeyTtl(conn, { key: `${LOCK_KEY_PREFIX}${p}`, ttlMs: 1000, confirmProtected: 'sess:' }, families)).rejects.toMatchObject({ status: 409 });
    expect(await setKeyTtl(conn, { key: `sess:${p}`, ttlMs: null, confirmProtected: 'sess:' }, families)).toMatchObject({ ttlMs: -1, changed: true });
    expect(await c.pttl(`sess:${p}`)).toBe(-1);
  });
});
