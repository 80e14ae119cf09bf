/**
 * The admin key browser on real Redis (standalone, Cluster, Sentinel): SCAN paging covers every key
 * exactly once, per-key facts, bounded value views for each type, deletion of one key and by
 * pattern, parameter errors, and a dead server failing at once.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AdminApiError, deleteByPattern, deleteKey, keyValue, scanKeys, STRING_MAX_BYTES, ITEM_MAX_CHARS } from '../../src/admin-api/index.js';
import { RedisTimeoutError, RedisUnavailableError, type RedisConnection, type RedisRegistry } from '../../src/index.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';

const redis = inject('redis');
const makeRegistry = registriesClosedAfterEach();

async function connectionTo(connection: unknown): Promise<RedisConnection> {
  const registry: RedisRegistry = makeRegistry({ connections: { main: { connection: connection as never } } });
  await registry.waitUntilReady();
  return registry.get('main');
}

/** Every page of a walk; the cursors seen. */
async function walk(conn: RedisConnection, query: { pattern: string; count: number; type?: string }) {
  const keys: string[] = [];
  const cursors: string[] = [];
  let cursor: string | null = '0';
  let pages = 0;
  while (cursor !== null) {
    const page = await scanKeys(conn, { ...query, count: String(query.count), cursor });
    keys.push(...page.keys.map((k) => k.key));
    cursor = page.cursor;
    if (cursor !== null) cursors.push(cursor);
    if (++pages > 10_000) throw new Error('the walk does not end');
  }
  return { keys, cursors, pages };
}

async function expectBadParam(promise: Promise<unknown>, param: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AdminApiError);
  expect((err as AdminApiError).status).toBe(400);
  expect((err as AdminApiError).message).toMatch(new RegExp(`^${param}: `));
}

describe.each([
  ['standalone', () => redis.standalone.url],
  ['cluster', () => ({ nodes: redis.cluster.nodes })],
  ['sentinel', () => ({ sentinels: redis.sentinel.sentinels, name: redis.sentinel.name })],
])('on %s', (kind, connection) => {
  it('a full SCAN walk with a small count lists each of 500 keys exactly once, and only matching ones', async () => {
    const conn = await connectionTo(connection());
    const p = randomPrefix('admin-scan');
    const c = conn.client;
    const names = Array.from({ length: 500 }, (_, i) => `${p}k:${i}`);
    await Promise.all(names.map((k) => c.set(k, 'v')));
    await Promise.all(Array.from({ length: 20 }, (_, i) => c.set(`${p}other:${i}`, 'x')));
    const { keys, cursors, pages } = await walk(conn, { pattern: `${p}k:*`, count: 25 });
    expect(keys.length).toBe(500);
    expect(new Set(keys).size).toBe(500);
    expect([...keys].sort()).toEqual([...names].sort());
    expect(pages).toBeGreaterThan(1);
    if (kind === 'cluster') {
      // The cursor names the master (0, 1, 2 by address) and that master's SCAN cursor.
      expect(cursors.every((cur) => /^\d+:\d+$/.test(cur))).toBe(true);
      expect(new Set(cursors.map((cur) => cur.split(':')[0]))).toEqual(new Set(['0', '1', '2']));
    } else {
      expect(cursors.every((cur) => /^\d+$/.test(cur))).toBe(true);
    }
    await Promise.all([...names, ...Array.from({ length: 20 }, (_, i) => `${p}other:${i}`)].map((k) => c.unlink(k)));
  });

  it('rows carry type, TTL (ms, -1 = none), MEMORY USAGE and length; the type filter works', async () => {
    const conn = await connectionTo(connection());
    const p = randomPrefix('admin-rows');
    const c = conn.client;
    await c.set(`${p}str`, 'hello', 'PX', 60_000);
    await c.hset(`${p}hash`, 'a', '1', 'b', '2');
    await c.rpush(`${p}list`, 'x', 'y', 'z');
    await c.sadd(`${p}set`, 'm1', 'm2', 'm3', 'm4');
    await c.zadd(`${p}zset`, 1, 'one', 2, 'two');
    await c.xadd(`${p}stream`, '*', 'f', 'v');
    const { keys } = await walk(conn, { pattern: `${p}*`, count: 1000 });
    expect(keys.sort()).toEqual(['hash', 'list', 'set', 'stream', 'str', 'zset'].map((k) => p + k).sort());
    const page = await scanKeys(conn, { pattern: `${p}*`, count: '1000' });
    const rows = Object.fromEntries(page.keys.map((r) => [r.key.slice(p.length), r]));
    // One SCAN call per master may not reach every key on a loaded server: a full walk did above.
    for (const [name, type, length] of [
      ['str', 'string', 5],
      ['hash', 'hash', 2],
      ['list', 'list', 3],
      ['set', 'set', 4],
      ['zset', 'zset', 2],
      ['stream', 'stream', 1],
    ] as const) {
      const row = rows[name] ?? (await keyValue(conn, { key: p + name }));
      expect({ name, type: row.type, length: row.length }).toEqual({ name, type, length });
      expect(row.size).toBeGreaterThan(0);
      if (name === 'str') {
        expect(row.ttlMs).toBeGreaterThan(55_000);
        expect(row.ttlMs).toBeLessThanOrEqual(60_000);
      } else {
        expect(row.ttlMs).toBe(-1);
      }
    }
    const onlySets = await walk(conn, { pattern: `${p}*`, count: 100, type: 'set' });
    expect(onlySets.keys).toEqual([`${p}set`]);
    await Promise.all(['str', 'hash', 'list', 'set', 'zset', 'stream'].map((k) => c.unlink(p + k)));
  });

  it('value views for each type, cut to limit items with truncated', async () => {
    const conn = await connectionTo(connection());
    const p = randomPrefix('admin-value');
    const c = conn.client;
    await c.hset(`${p}hash`, Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, `v${i}`])));
    await c.rpush(`${p}list`, ...Array.from({ length: 30 }, (_, i) => `i${i}`));
    await c.sadd(`${p}set`, ...Array.from({ length: 30 }, (_, i) => `m${i}`));
    await c.zadd(`${p}zset`, ...Array.from({ length: 30 }, (_, i) => [i + 0.5, `z${i}`]).flat());
    await c.zadd(`${p}zinf`, '+inf', 'top', '-inf', 'bottom');
    for (let i = 0; i < 30; i++) await c.xadd(`${p}stream`, `${i + 1}-0`, 'n', String(i));

    const hash = await keyValue(conn, { key: `${p}hash`, limit: '10' });
    expect(hash).toMatchObject({ type: 'hash', length: 30, truncated: true });
    expect((hash.value as [string, string][]).length).toBe(10);
    for (const [f, v] of hash.value as [string, string][]) expect(v).toBe(`v${f.slice(1)}`);
    const wholeHash = await keyValue(conn, { key: `${p}hash`, limit: '100' });
    expect(wholeHash.truncated).toBe(false);
    expect(new Map(wholeHash.value as [string, string][])).toEqual(new Map(Array.from({ length: 30 }, (_, i) => [`f${i}`, `v${i}`])));

    const list = await keyValue(conn, { key: `${p}list`, limit: '5' });
    expect(list).toMatchObject({ type: 'list', length: 30, truncated: true, value: ['i0', 'i1', 'i2', 'i3', 'i4'] });

    const set = await keyValue(conn, { key: `${p}set`, limit: '7' });
    expect(set).toMatchObject({ type: 'set', length: 30, truncated: true });
    expect((set.value as string[]).length).toBe(7);
    expect((await keyValue(conn, { key: `${p}set` })).value).toHaveLength(30);

    const zset = await keyValue(conn, { key: `${p}zset`, limit: '3' });
    expect(zset).toMatchObject({
      type: 'zset',
      length: 30,
      truncated: true,
      value: [
        ['z0', 0.5],
        ['z1', 1.5],
        ['z2', 2.5],
      ],
    });
    expect((await keyValue(conn, { key: `${p}zinf` })).value).toEqual([
      ['bottom', '-inf'],
      ['top', 'inf'],
    ]);

    const stream = await keyValue(conn, { key: `${p}stream`, limit: '2' });
    expect(stream).toMatchObject({
      type: 'stream',
      length: 30,
      truncated: true,
      value: [
        { id: '1-0', fields: [['n', '0']] },
        { id: '2-0', fields: [['n', '1']] },
      ],
    });

    // an item longer than ITEM_MAX_CHARS is cut, and says so
    await c.rpush(`${p}long`, 'y'.repeat(ITEM_MAX_CHARS + 10));
    const long = await keyValue(conn, { key: `${p}long` });
    expect(long.truncated).toBe(true);
    expect((long.value as string[])[0]).toHaveLength(ITEM_MAX_CHARS);
    await Promise.all(['hash', 'list', 'set', 'zset', 'zinf', 'stream', 'long'].map((k) => c.unlink(p + k)));
  });

  it('strings: UTF-8 as is, binary as base64, at most 64 KiB (never cutting a character in half)', async () => {
    const conn = await connectionTo(connection());
    const p = randomPrefix('admin-string');
    const c = conn.client;
    await c.set(`${p}text`, 'grüße ✓');
    expect(await keyValue(conn, { key: `${p}text` })).toMatchObject({ type: 'string', value: 'grüße ✓', encoding: 'utf8', truncated: false, length: 11 });

    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]);
    await c.set(`${p}bin`, binary);
    expect(await keyValue(conn, { key: `${p}bin` })).toMatchObject({ value: binary.toString('base64'), encoding: 'base64', truncated: false, length: 5 });

    // 3-byte characters: 64 KiB is not a multiple of 3, so the cut falls inside one
    const big = '€'.repeat(30_000); // 90,000 bytes
    await c.set(`${p}big`, big);
    const view = await keyValue(conn, { key: `${p}big` });
    expect(view).toMatchObject({ encoding: 'utf8', truncated: true, length: 90_000 });
    expect(view.value).toBe('€'.repeat(Math.floor(STRING_MAX_BYTES / 3)));
    await Promise.all(['text', 'bin', 'big'].map((k) => c.unlink(p + k)));
  });

  it('deletes one key (UNLINK) and, by pattern on every master, only the matching keys', async () => {
    const conn = await connectionTo(connection());
    const p = randomPrefix('admin-del');
    const c = conn.client;
    const doomed = Array.from({ length: 120 }, (_, i) => `${p}tmp:${i}`);
    const kept = Array.from({ length: 40 }, (_, i) => `${p}keep:${i}`);
    await Promise.all([...doomed, ...kept].map((k) => c.set(k, '1')));

    expect(await deleteKey(conn, { key: kept[0] })).toEqual({ key: kept[0], deleted: 1 });
    expect(await deleteKey(conn, { key: kept[0] })).toEqual({ key: kept[0], deleted: 0 });
    expect(await c.exists(kept[0]!)).toBe(0);

    await expectBadParam(deleteByPattern(conn, { pattern: `${p}tmp:*`, confirm: `${p}tmp:` }), 'confirm');
    expect(await c.exists(doomed[0]!)).toBe(1);
    expect(await deleteByPattern(conn, { pattern: `${p}tmp:*`, confirm: `${p}tmp:*` })).toEqual({
      pattern: `${p}tmp:*`,
      deleted: 120,
      complete: true,
      elapsedMs: expect.any(Number),
    });
    const left = await walk(conn, { pattern: `${p}*`, count: 100 });
    expect(left.keys.sort()).toEqual(kept.slice(1).sort());
    await Promise.all(kept.map((k) => c.unlink(k)));
  });

  it('bad parameters are 400s naming the parameter; a missing key is a 404', async () => {
    const conn = await connectionTo(connection());
    await expectBadParam(scanKeys(conn, { count: '0' }), 'count');
    await expectBadParam(scanKeys(conn, { count: '1001' }), 'count');
    await expectBadParam(scanKeys(conn, { count: 'ten' }), 'count');
    await expectBadParam(scanKeys(conn, { pattern: '' }), 'pattern');
    await expectBadParam(scanKeys(conn, { cursor: 'x:y' }), 'cursor');
    await expectBadParam(scanKeys(conn, { cursor: kind === 'cluster' ? '7:0' : '1:0' }), 'cursor');
    await expectBadParam(scanKeys(conn, { type: 'json' }), 'type');
    await expectBadParam(keyValue(conn, { key: '' }), 'key');
    await expectBadParam(keyValue(conn, { key: 'k', limit: '5000' }), 'limit');
    await expectBadParam(deleteByPattern(conn, { pattern: '', confirm: '' }), 'pattern');
    const missing = await keyValue(conn, { key: `${randomPrefix('admin-missing')}nope` }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AdminApiError);
    expect((missing as AdminApiError).status).toBe(404);
  });
});

describe('a server that is down', () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await startStandalone();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('every call fails at once with RedisUnavailableError instead of waiting', async () => {
    const conn = await connectionTo({ host: server.host, port: server.port, retryStrategy: () => 1000 });
    await server.kill('SIGKILL');
    await waitFor(() => !conn.isReady, 10_000, 'the client to see the server gone');
    const started = Date.now();
    for (const call of [
      () => scanKeys(conn, {}),
      () => keyValue(conn, { key: 'k' }),
      () => deleteKey(conn, { key: 'k' }),
      () => deleteByPattern(conn, { pattern: 'k*', confirm: 'k*' }),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(RedisUnavailableError);
    }
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('a server that hangs (SIGSTOP) gives RedisTimeoutError after max(requestTimeout, 2000) ms, not a hang', async () => {
    await server.restart();
    const conn = await connectionTo({ host: server.host, port: server.port });
    await conn.client.set('k', 'v');
    server.pause();
    try {
      const started = Date.now();
      await expect(keyValue(conn, { key: 'k' })).rejects.toBeInstanceOf(RedisTimeoutError);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(2000 - 50);
      expect(took).toBeLessThan(2000 + 1500);
    } finally {
      server.resume();
    }
  });
});
