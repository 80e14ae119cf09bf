/**
 * Issue 18 item 3 at the admin API's functions: a bounded, cursor-paged walk ranks keys by
 * MEMORY USAGE and groups them by prefix. A big key planted among 10,000 small ones is found
 * first, every page stays within its time budget (plus one batch), and the pages add up to every
 * key exactly once. Standalone on a server of this file's own; the shared Cluster under a random
 * prefix (only this file's keys are written, read and removed there).
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { groupOf, knownPrefixes, memoryPage, HEALTH_KEY_PREFIX, type MemoryPage } from '../../src/admin-api/index.js';
import { LOCK_KEY_PREFIX, type RedisConnection } from '../../src/index.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';

const redis = inject('redis');
const makeRegistry = registriesClosedAfterEach();
const SMALL = 10_000;
const BIG_BYTES = 256 * 1024;
let own: ServerHandle;
let direct: Redis;
let cluster: Cluster;
const p = randomPrefix('mem');

beforeAll(async () => {
  own = await startStandalone();
  direct = new Redis(own.url);
  cluster = new Cluster(redis.cluster.nodes);
  for (const client of [direct, cluster]) {
    // (a Cluster pipeline must stay in one slot: plain commands, 500 at a time)
    for (let from = 0; from < SMALL; from += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, i) => client.set(`${p}small:${from + i}`, `v${from + i}`)));
    }
    await client.set(`${p}big`, 'x'.repeat(BIG_BYTES), 'PX', 600_000);
  }
  await direct.set('sess:abc', '{}');
  await direct.set(`${LOCK_KEY_PREFIX}something`, '1');
  await direct.set('nocolon', '1');
}, 120_000);

afterAll(async () => {
  direct?.disconnect();
  await own?.stop();
  if (cluster) {
    for (const node of cluster.nodes('master')) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await Promise.all(keys.map((k) => node.unlink(k)));
      } while (cursor !== '0');
    }
    cluster.disconnect();
  }
});

async function connection(conn: unknown): Promise<RedisConnection> {
  const registry = makeRegistry({ connections: { main: { connection: conn as never } } });
  await registry.waitUntilReady();
  return registry.get('main');
}

/** Walk every page, as the admin panel does; returns the pages and how long each took. */
async function walk(conn: RedisConnection, query: Record<string, string>): Promise<{ pages: MemoryPage[]; wall: number[] }> {
  const pages: MemoryPage[] = [];
  const wall: number[] = [];
  let cursor: string | null = '0';
  while (cursor !== null) {
    const started = Date.now();
    const page = await memoryPage(conn, { ...query, cursor }, {});
    wall.push(Date.now() - started);
    pages.push(page);
    cursor = page.cursor;
    expect(pages.length).toBeLessThan(500);
  }
  return { pages, wall };
}

describe.each([
  ['standalone', () => own.url],
  ['cluster', () => ({ nodes: redis.cluster.nodes })],
])('memory by key on %s', (_kind, target) => {
  it('finds the planted big key first among 10,000 small ones, each page within its budget', async () => {
    const conn = await connection(target());
    const budgetMs = 150;
    const { pages, wall } = await walk(conn, { pattern: `${p}*`, budgetMs: String(budgetMs), top: '10' });
    // Merge the pages as the panel does.
    const top = pages.flatMap((page) => page.top).sort((a, b) => b.bytes - a.bytes);
    expect(top[0]).toMatchObject({ key: `${p}big`, type: 'string' });
    expect(top[0]!.bytes).toBeGreaterThanOrEqual(BIG_BYTES);
    expect(top[0]!.ttlMs).toBeGreaterThan(0);
    expect(top[1]!.bytes).toBeLessThan(200);
    const scanned = pages.reduce((a, page) => a + page.scanned, 0);
    expect(scanned).toBe(SMALL + 1);
    const group = new Map<string, number>();
    for (const page of pages) for (const g of page.groups) group.set(g.prefix, (group.get(g.prefix) ?? 0) + g.keys);
    // randomPrefix is `t:<label>:<id>:`: every key shares the group "t:".
    expect(group.get(p.slice(0, p.indexOf(':') + 1))).toBe(SMALL + 1);
    for (const page of pages) {
      expect(page.elapsedMs).toBeLessThan(budgetMs + 2000); // the budget, plus the batch under way when it ran out
      expect(page.totalKeys).toBeGreaterThanOrEqual(SMALL + 1);
    }
    expect(pages.slice(0, -1).every((page) => page.stoppedBy === 'time' || page.stoppedBy === 'keys')).toBe(true);
    expect(pages[pages.length - 1]!.stoppedBy).toBe('end');
    // Each page really stopped: more than one was needed for 10,001 keys at 150 ms each on a loaded machine, or not; either way none ran long.
    expect(Math.max(...wall)).toBeLessThan(budgetMs + 3000);
  });

  it('a key budget ends a page too, and the walk goes on from its cursor', async () => {
    const conn = await connection(target());
    const first = await memoryPage(conn, { pattern: `${p}small:*`, maxKeys: '100', budgetMs: '5000' }, {});
    expect(first.stoppedBy).toBe('keys');
    expect(first.scanned).toBeGreaterThanOrEqual(100);
    expect(first.scanned).toBeLessThan(1000);
    expect(first.cursor).not.toBeNull();
    const rest = await walk(conn, { pattern: `${p}small:*`, maxKeys: '5000' });
    expect(rest.pages.reduce((a, page) => a + page.scanned, 0)).toBe(SMALL);
  });
});

describe('groups and parameters', () => {
  it('longest known prefix first, else up to the first colon', () => {
    const known = knownPrefixes({});
    expect(groupOf(`${LOCK_KEY_PREFIX}cron:x:tick:1`, known)).toEqual({ prefix: LOCK_KEY_PREFIX, family: 'locks' });
    expect(groupOf('sess:abc', known)).toEqual({ prefix: 'sess:', family: 'sessions' });
    expect(groupOf('rl:1.2.3.4', known)).toEqual({ prefix: 'rl:', family: 'rate limit' });
    expect(groupOf(`${HEALTH_KEY_PREFIX}default`, known)).toEqual({ prefix: HEALTH_KEY_PREFIX, family: 'health series' });
    expect(groupOf('cron:last:t', known)).toEqual({ prefix: 'cron:last:', family: 'cron history' });
    expect(groupOf('user:1:profile', known)).toEqual({ prefix: 'user:', family: null });
    expect(groupOf('plain', known)).toEqual({ prefix: '', family: null });
  });

  it('the whole keyspace of a server, grouped', async () => {
    const conn = await connection(own.url);
    const { pages } = await walk(conn, { budgetMs: '1000' });
    const groups = new Map<string, { family: string | null; keys: number }>();
    for (const page of pages)
      for (const group of page.groups) groups.set(group.prefix, { family: group.family, keys: (groups.get(group.prefix)?.keys ?? 0) + group.keys });
    expect(groups.get('sess:')).toEqual({ family: 'sessions', keys: 1 });
    expect(groups.get(LOCK_KEY_PREFIX)).toEqual({ family: 'locks', keys: 1 });
    expect(groups.get('')).toEqual({ family: null, keys: 1 });
  });

  it('parameters are checked', async () => {
    const conn = await connection(own.url);
    for (const [query, param] of [
      [{ budgetMs: '0' }, 'budgetMs'],
      [{ budgetMs: '60000' }, 'budgetMs'],
      [{ maxKeys: '1000000' }, 'maxKeys'],
      [{ samples: '0' }, 'samples'],
      [{ top: '1000' }, 'top'],
      [{ cursor: 'nope' }, 'cursor'],
      [{ pattern: 'x'.repeat(300) }, 'pattern'],
    ] as const) {
      await expect(memoryPage(conn, query, {})).rejects.toMatchObject({ status: 400, message: expect.stringMatching(new RegExp(`^${param}: `)) });
    }
  });
});
