/**
 * Issue 13 item 13, at the admin API's functions, on servers this file starts itself (a refused
 * pattern like `*` must never reach the shared servers, in case the protection failed):
 * - delete by pattern refuses a pattern that could match the suite's own state (lock, fence and
 *   tick keys, cron history, each response cache's generation keys, sessions) unless the pattern
 *   names that family's prefix and `confirmProtected` repeats it; the families come from the
 *   suite's constants and the live config (cache stores, session stores, the cron guard);
 * - the pattern's length is capped (SCAN and delete);
 * - the whole deletion is bounded by one deadline across its SCAN/UNLINK batches, and reports how
 *   far it got;
 * - session values are withheld unless the admin may read them.
 */
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdminApiError,
  MAX_PATTERN_LENGTH,
  couldMatchPrefix,
  deleteByPattern,
  keyValue,
  protectedFamilies,
  scanKeys,
  type ProtectedFamily,
} from '../../src/admin-api/index.js';
import { CRON_HISTORY_PREFIX, CronHistory } from '../../src/core/cron-history.js';
import { createSuiteLog } from '../../src/core/logger.js';
import { LOCK_KEY_PREFIX, redisSessionStore, type RedisConnection } from '../../src/index.js';
import { cachesOf, trackCache, type CacheHandle } from '../../src/middlewares/cache/invalidation.js';
import { CacheStore } from '../../src/middlewares/cache/store.js';
import { randomPrefix, startCluster, startStandalone, type ClusterHandle, type ServerHandle } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';

const makeRegistry = registriesClosedAfterEach();
let server: ServerHandle;
let cluster: ClusterHandle;

beforeAll(async () => {
  [server, cluster] = await Promise.all([startStandalone(), startCluster()]);
});
afterAll(async () => {
  await Promise.allSettled([server?.stop(), cluster?.stop()]);
});

async function connectionTo(connection: unknown): Promise<RedisConnection> {
  const registry = makeRegistry({ connections: { main: { connection: connection as never } } });
  await registry.waitUntilReady();
  return registry.get('main');
}

/** A host (what Strapi is to the admin API) with one response cache on `prefix`, as the cache factory tracks it. */
function hostWithCache(prefix: string, conn: RedisConnection): object {
  const host = {};
  const store = new CacheStore({ prefix, connection: () => conn, log: () => createSuiteLog(captureLogger(), 'cache'), readTimeout: 1000 });
  const handle: CacheHandle = {
    store,
    connection: conn.name,
    tags: ['t'],
    counters: store.counters,
    purgeTag: (tag) => store.purge(tag),
    purgeContentType: async () => 0,
    purgeAll: async () => store.purge('t'),
  };
  trackCache(host, handle);
  return host;
}

async function refused(promise: Promise<unknown>): Promise<AdminApiError> {
  const err = await promise.then(
    (v) => v,
    (e: unknown) => e,
  );
  expect(err, `expected a refusal, got ${JSON.stringify(err)}`).toBeInstanceOf(AdminApiError);
  return err as AdminApiError;
}

async function allKeys(conn: RedisConnection): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | null = '0';
  while (cursor !== null) {
    const page = await scanKeys(conn, { pattern: '*', count: '1000', cursor });
    keys.push(...page.keys.map((k) => k.key));
    cursor = page.cursor;
  }
  return keys.sort();
}

/** Keys matching `pattern` on every master (raw SCAN, not the code under test). */
async function countKeys(conn: RedisConnection, pattern: string): Promise<number> {
  const nodes = conn.isCluster ? (conn.client as Cluster).nodes('master') : [conn.client as Redis];
  let n = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      n += keys.length;
    } while (cursor !== '0');
  }
  return n;
}

describe('which patterns could match a prefix (Redis glob rules)', () => {
  it.each([
    ['*', 'lock:{locks}:', true],
    ['l*', 'lock:{locks}:', true],
    ['lock:*', 'lock:{locks}:', true],
    ['lock:{locks}:*', 'lock:{locks}:', true],
    ['lock:{locks}:fence:*', 'lock:{locks}:', true],
    ['l?ck:*', 'lock:{locks}:', true],
    ['[kl]ock:*', 'lock:{locks}:', true],
    ['[a-m]ock*', 'lock:{locks}:', true],
    ['[^x]ock*', 'lock:{locks}:', true],
    ['\\lock*', 'lock:{locks}:', true],
    ['*:{locks}:*', 'lock:{locks}:', true],
    ['?', 'lock:{locks}:', false],
    ['lock', 'lock:{locks}:', false],
    ['lock:x*', 'lock:{locks}:', false],
    ['[^l]ock:*', 'lock:{locks}:', false],
    ['[a-k]ock:*', 'lock:{locks}:', false],
    ['Lock:*', 'lock:{locks}:', false],
    ['cache:e:*', 'cache:g:', false],
    ['cache:*', 'cache:g:', true],
    ['sess', 'sess:', false],
    ['sess*', 'sess:', true],
    ['app:sess:*', 'sess:', false],
  ] as const)('%s against %s: %s', (pattern, prefix, expected) => {
    expect(couldMatchPrefix(pattern, prefix)).toBe(expected);
  });
});

describe('the protected families come from the constants and the live config', () => {
  it("locks (with fence and tick keys), cron history (the guard's prefix), each cache's generation keys, every session store's prefix", async () => {
    const conn = await connectionTo(server.url);
    const cachePrefix = randomPrefix('pf-cache');
    const host = hostWithCache(cachePrefix, conn);
    const sessPrefix = randomPrefix('pf-sess');
    redisSessionStore({ client: conn.client, prefix: sessPrefix });
    const history = new CronHistory({ connection: () => conn, log: createSuiteLog(captureLogger(), 'cron'), prefix: 'myapp:cron:' });
    const families = protectedFamilies(host, { history });
    const byPrefix = Object.fromEntries(families.map((f) => [f.prefix, f.family]));
    expect(byPrefix[LOCK_KEY_PREFIX]).toBe('locks');
    expect(byPrefix['myapp:cron:']).toBe('cron history');
    expect(byPrefix[CRON_HISTORY_PREFIX]).toBe('cron history');
    // Derived from the store's own key layout, not a literal.
    const store = cachesOf(host)[0]!.store;
    const gen = families.find((f) => f.family === 'cache generations')!;
    expect(store.genKey('x').startsWith(gen.prefix)).toBe(true);
    expect(store.genKey('y').startsWith(gen.prefix)).toBe(true);
    expect(store.entryKey('x').startsWith(gen.prefix)).toBe(false);
    expect(byPrefix[sessPrefix]).toBe('sessions');
    expect(byPrefix['sess:']).toBe('sessions');
  });
});

describe.each([
  ['standalone', () => server.url],
  ['cluster', () => ({ nodes: cluster.nodes })],
])('delete by pattern on %s', (_kind, connection) => {
  it("refuses a pattern that could match the suite's own keys, names the family and how to confirm; deletes them only when named and confirmed", async () => {
    const conn = await connectionTo(connection());
    const c = conn.client;
    const cachePrefix = randomPrefix('pd-cache');
    const host = hostWithCache(cachePrefix, conn);
    const sessPrefix = randomPrefix('pd-sess');
    redisSessionStore({ client: c, prefix: sessPrefix });
    const families: readonly ProtectedFamily[] = protectedFamilies(host, undefined);
    const p = randomPrefix('pd-app');
    const own = {
      lock: `${LOCK_KEY_PREFIX}${p}res`,
      fence: `${LOCK_KEY_PREFIX}fence:${p}res`,
      tick: `${LOCK_KEY_PREFIX}cron:${p}task:tick:1700000000000`,
      cron: `${CRON_HISTORY_PREFIX}${p}task`,
      gen: `${cachePrefix}g:t`,
      sess: `${sessPrefix}abc`,
    };
    const app = Array.from({ length: 30 }, (_, i) => `${p}k:${i}`);
    const entries = [`${cachePrefix}e:/a`, `${cachePrefix}e:/b`];
    await Promise.all([...Object.values(own), ...app, ...entries].map((k) => c.set(k, '1')));
    const before = await allKeys(conn);

    for (const pattern of ['*', 'lock:*', 'l?ck:*', '[l]ock:*', 'cron:*', `${cachePrefix}*`, `${sessPrefix.slice(0, 6)}*`]) {
      const err = await refused(deleteByPattern(conn, { pattern, confirm: pattern }, { protected: families }));
      expect(err.status).toBe(409);
      expect(err.message).toMatch(/^pattern: /);
      expect(err.message).toMatch(/confirmProtected/);
      expect(err.details.protected?.length).toBeGreaterThan(0);
    }
    const star = await refused(deleteByPattern(conn, { pattern: '*', confirm: '*' }, { protected: families }));
    for (const name of ['locks', 'cron history', 'cache generations', 'sessions']) expect(star.message).toContain(name);
    expect(star.message).toContain(`"${LOCK_KEY_PREFIX}"`);
    // Nothing was deleted by any refused request.
    expect(await allKeys(conn)).toEqual(before);

    // An ordinary pattern, and the cache's entries (not its generations), delete as before.
    expect(await deleteByPattern(conn, { pattern: `${p}k:*`, confirm: `${p}k:*` }, { protected: families })).toMatchObject({ deleted: 30, complete: true });
    expect(await deleteByPattern(conn, { pattern: `${cachePrefix}e:*`, confirm: `${cachePrefix}e:*` }, { protected: families })).toMatchObject({
      deleted: 2,
      complete: true,
    });

    // Named but not confirmed, or confirmed with another prefix: refused.
    const lockPattern = `${LOCK_KEY_PREFIX}*${p}*`;
    const unconfirmed = await refused(deleteByPattern(conn, { pattern: lockPattern, confirm: lockPattern }, { protected: families }));
    expect(unconfirmed.status).toBe(409);
    expect(unconfirmed.message).toContain(`confirmProtected: "${LOCK_KEY_PREFIX}"`);
    expect(
      (await refused(deleteByPattern(conn, { pattern: lockPattern, confirm: lockPattern, confirmProtected: 'cron:last:' }, { protected: families }))).status,
    ).toBe(409);
    // one EXISTS per key: lock keys live in a slot per resource on a Cluster
    expect((await Promise.all([own.lock, own.fence, own.tick].map((k) => c.exists(k)))).reduce((a, b) => a + b, 0)).toBe(3);

    // Named and confirmed: that family only.
    expect(
      await deleteByPattern(conn, { pattern: lockPattern, confirm: lockPattern, confirmProtected: LOCK_KEY_PREFIX }, { protected: families }),
    ).toMatchObject({ deleted: 3, complete: true });
    const sessPattern = `${sessPrefix}*`;
    expect(await deleteByPattern(conn, { pattern: sessPattern, confirm: sessPattern, confirmProtected: sessPrefix }, { protected: families })).toMatchObject({
      deleted: 1,
    });
    const genPattern = `${cachePrefix}g:*`;
    expect(
      await deleteByPattern(conn, { pattern: genPattern, confirm: genPattern, confirmProtected: `${cachePrefix}g:` }, { protected: families }),
    ).toMatchObject({ deleted: 1 });
    expect(await c.exists(own.cron)).toBe(1);
    await c.unlink(own.cron);
  });

  it('caps the pattern at MAX_PATTERN_LENGTH characters (SCAN and delete)', async () => {
    const conn = await connectionTo(connection());
    const p = randomPrefix('pd-len');
    const ok = `${p}${'x'.repeat(MAX_PATTERN_LENGTH - p.length - 1)}*`;
    expect(ok.length).toBe(MAX_PATTERN_LENGTH);
    const tooLong = `${ok}*`;
    expect(await scanKeys(conn, { pattern: ok })).toMatchObject({ keys: [] });
    expect(await deleteByPattern(conn, { pattern: ok, confirm: ok })).toMatchObject({ deleted: 0, complete: true });
    for (const call of [scanKeys(conn, { pattern: tooLong }), deleteByPattern(conn, { pattern: tooLong, confirm: tooLong })]) {
      const err = await refused(call);
      expect(err.status).toBe(400);
      expect(err.message).toMatch(new RegExp(`^pattern: expected .*at most ${MAX_PATTERN_LENGTH} characters`));
    }
  });

  it('one deadline bounds the whole deletion across its batches and the answer says how far it got', async () => {
    const conn = await connectionTo(connection());
    const c = conn.client;
    const p = randomPrefix('pd-deadline');
    const total = 20_000;
    for (let from = 0; from < total; from += 1000) {
      const pipe = c.pipeline();
      for (let i = from; i < from + 1000; i++) pipe.set(`${p}{k}${i}`, '1');
      await pipe.exec();
    }
    const deadlineMs = 40;
    const started = performance.now();
    const partial = await deleteByPattern(conn, { pattern: `${p}*`, confirm: `${p}*` }, { deadlineMs });
    const took = performance.now() - started;
    expect(partial.complete).toBe(false);
    expect(partial.deleted).toBeLessThan(total);
    // The bound holds for the request, whatever the number of batches (margin: a loaded machine).
    expect(took).toBeLessThan(deadlineMs + 600);
    expect(partial.elapsedMs).toBeLessThan(deadlineMs + 600);
    // What it reports is what happened: the keys it did not reach are still there (a batch cut
    // by the deadline may have been applied without being counted: at most one batch, 500 keys).
    const left = await countKeys(conn, `${p}*`);
    expect(left).toBeLessThanOrEqual(total - partial.deleted);
    expect(left).toBeGreaterThanOrEqual(total - partial.deleted - 500);
    expect(left).toBeGreaterThan(0);
    // Run again (default deadline): it finishes the job.
    const rest = await deleteByPattern(conn, { pattern: `${p}*`, confirm: `${p}*` });
    expect(rest.complete).toBe(true);
    expect(rest.deleted).toBe(left);
    expect(await countKeys(conn, `${p}*`)).toBe(0);
  });
});

describe('session values', () => {
  it('are withheld (listed, facts shown, value not) unless the admin may read them; other keys are not affected', async () => {
    const conn = await connectionTo(server.url);
    const c = conn.client;
    const sessPrefix = randomPrefix('sv-sess');
    redisSessionStore({ client: c, prefix: sessPrefix });
    const key = `${sessPrefix}0f1e2d`;
    const payload = JSON.stringify({ grant: { secret: 'oauth-state-canary' } });
    await c.set(key, payload, 'PX', 60_000);
    await c.set(`sess:${sessPrefix}`, payload, 'PX', 60_000);
    const other = `${randomPrefix('sv-app')}k`;
    await c.set(other, 'visible');

    const families = protectedFamilies({}, undefined);
    const page = await scanKeys(conn, { pattern: `${sessPrefix}*` });
    expect(page.keys.map((k) => k.key)).toEqual([key]);

    for (const k of [key, `sess:${sessPrefix}`]) {
      const hidden = await keyValue(conn, { key: k }, { canReadSessions: false, protected: families });
      expect(hidden).toMatchObject({ key: k, type: 'string', value: null, withheld: 'session', truncated: false });
      expect(hidden.ttlMs).toBeGreaterThan(0);
      expect(JSON.stringify(hidden)).not.toContain('oauth-state-canary');
      // Without options: withheld too (the safe default).
      expect((await keyValue(conn, { key: k })).withheld).toBe('session');
      const shown = await keyValue(conn, { key: k }, { canReadSessions: true, protected: families });
      expect(shown).toMatchObject({ value: payload, encoding: 'utf8' });
      expect(shown.withheld).toBeUndefined();
    }
    expect(await keyValue(conn, { key: other }, { canReadSessions: false, protected: families })).toMatchObject({ value: 'visible' });
    await c.unlink(key, `sess:${sessPrefix}`, other);
  });
});
