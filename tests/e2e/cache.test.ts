/**
 * plugin::redis.cache in two real Strapi 5 instances sharing one Redis: the article content type's
 * REST find/findOne are cached, and a write through the document service (directly, through the
 * REST API, or through a GraphQL mutation) on one instance purges the entries both serve from (the
 * next read on either is fresh). The same scenarios run with the plugin's connection on the shared
 * standalone server and on the shared Cluster (3 masters + 3 replicas).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomPrefix } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { ensurePlaygroundInstalled, startApp, type AppHandle } from './app.js';

const redis = inject('redis');
const prefix = randomPrefix('e2e-cache');

interface Article {
  documentId: string;
  title: string;
}

async function get(app: AppHandle, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${app.url}${path}`, { headers });
  const text = await res.text();
  return { status: res.status, cache: res.headers.get('x-cache'), etag: res.headers.get('etag'), text, json: () => JSON.parse(text) as { data: unknown } };
}

async function write(app: AppHandle, method: 'POST' | 'PUT', path: string, body: object): Promise<Article> {
  const res = await fetch(`${app.url}/api/cache-probe/articles${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: Article }).data;
}

/** PUT through the probe's route that updates inside an outer transaction and holds it open until tx-release. */
const inTransaction = (app: AppHandle, documentId: string, body: object, query = '') =>
  fetch(`${app.url}/api/cache-probe/articles/${documentId}/in-transaction${query}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const purges = async (app: AppHandle) => ((await (await fetch(`${app.url}/api/cache-probe/cache-stats`)).json()) as { purges: number }).purges;

const txState = async (app: AppHandle) => ((await (await fetch(`${app.url}/api/cache-probe/tx-state`)).json()) as { state: string }).state;

const apiToken = async (app: AppHandle, permissions?: string[]) =>
  (await (await fetch(`${app.url}/api/cache-probe/tokens${permissions ? `?permissions=${permissions.join(',')}` : ''}`, { method: 'POST' })).json()) as {
    id: number;
    accessKey: string;
  };

const purgeCall = (app: AppHandle, body: unknown, token?: string) =>
  fetch(`${app.url}/api/redis-cache/purge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

/** Move both instances' cache clock `offset` ms ahead. */
const setClock = (apps: AppHandle[], offset: number, probe: { failFind?: boolean; holdFind?: boolean } = {}) =>
  Promise.all(
    apps.map((app) =>
      fetch(`${app.url}/api/cache-probe/clock`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ offset, ...probe }),
      }),
    ),
  );

/** The article `find` controller's runs, summed over the instances. */
async function findCalls(apps: AppHandle[]): Promise<number> {
  let sum = 0;
  for (const app of apps) sum += ((await (await fetch(`${app.url}/api/cache-probe/find-calls`)).json()) as { calls: number }).calls;
  return sum;
}

const MAX_AGE = 60_000;
const SWR = 600_000;

const titles = (body: { data: unknown }) => (body.data as Article[]).map((a) => a.title);

// The plugin's connection and a client for the test's own checks, per topology.
const topologies = [
  {
    topology: 'standalone',
    connection: () => redis.standalone.url as string | object,
    client: () => new Redis(redis.standalone.url),
  },
  {
    topology: 'Cluster',
    connection: () => ({ nodes: redis.cluster.nodes }),
    client: () => new Cluster(redis.cluster.nodes),
  },
];

describe.each(topologies)('response cache in Strapi, connection on $topology', ({ topology, connection, client }) => {
  const apps: AppHandle[] = [];
  const run = `${prefix}${topology}:`;
  // Both instances use one database (as a real deployment does), so a write on A is data B reads.
  const dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-e2e-cache-db-'));

  // The purge webhook's receiver: it takes every delivery and never answers (the write must not wait for it).
  const hung: Array<{ url: string; body: string; at: number }> = [];
  const receiver = http.createServer((req) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => hung.push({ url: req.url ?? '', body, at: performance.now() }));
  });

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/purge`;
    await ensurePlaygroundInstalled({ quiet: true });
    // readTimeout 1 s: on a loaded 2-core machine a 50 ms read can time out, and a timed-out read
    // is a miss that does not coalesce (fail open); these scenarios test the paths when Redis answers.
    // staleWhileRevalidate: entries past maxAge on the probe's clock (moved by /cache-probe/clock) are served STALE.
    const config = {
      connection: 'default',
      prefix: run,
      maxAge: MAX_AGE,
      staleWhileRevalidate: SWR,
      staleIfError: SWR * 2,
      purgeEndpoint: true,
      warm: ['/api/articles?warm=1'],
      purgeWebhook: { urls: [receiverUrl], timeout: 120_000, retries: 0, maxPending: 1000 },
      readTimeout: 1_000,
      contentTypes: ['api::article.article'],
      coalesce: { lockTTL: 10_000, maxWait: 5_000, pollInterval: 20 },
    };
    const clock = 'now: () => Date.now() + (globalThis.__cacheProbeClockOffset || 0)';
    const middlewares = `module.exports = (defaults) => [...defaults, { name: 'plugin::redis.cache', config: { ...${JSON.stringify(config)}, ${clock} } }];`;
    // GraphQL on (shadow CRUD's default queries and mutations), for the mutation test.
    const graphqlConfig = path.join(dbDir, 'graphql-config.js');
    fs.writeFileSync(graphqlConfig, 'module.exports = {};\n');
    const start = () =>
      startApp({
        pluginConfig: { connections: { default: { connection: connection() } } },
        middlewares,
        env: { DATABASE_FILENAME: path.join(dbDir, 'data.db'), PLAYGROUND_CACHE_PROBE: `${run}probe:`, GRAPHQL_PLUGIN_CONFIG: graphqlConfig },
      });
    // one after the other: the first boot creates the schema
    apps.push(await start());
    apps.push(await start());
  }, 180_000);

  afterAll(async () => {
    receiver.closeAllConnections();
    receiver.close();
    await Promise.all(apps.map((a) => a.stop()));
    fs.rmSync(dbDir, { recursive: true, force: true });
  });

  it('find and findOne: MISS then HIT with the same bytes; other routes and credentials are not cached', async () => {
    const [a] = apps as [AppHandle, AppHandle];
    const created = await write(a, 'POST', '', { title: 'first' });
    const miss = await get(a, '/api/articles');
    expect(miss.status).toBe(200);
    expect(miss.cache).toBe('MISS');
    const hit = await get(a, '/api/articles');
    expect(hit.cache).toBe('HIT');
    expect(hit.text).toBe(miss.text);
    expect(titles(hit.json())).toContain('first');
    await get(a, `/api/articles/${created.documentId}`);
    const one = await get(a, `/api/articles/${created.documentId}`);
    expect(one.cache).toBe('HIT');
    expect((one.json().data as Article).title).toBe('first');
    expect((await get(a, '/api/articles', { 'if-none-match': hit.etag! })).status).toBe(304);
    expect((await get(a, '/api/articles', { authorization: 'Bearer whatever' })).cache).toBe('BYPASS');
    expect((await get(a, '/api/redis-demo/status')).cache).toBeNull();
  });

  it('purge webhook: a write answers while the receiver holds its delivery open; the delivery names the purged tag', async () => {
    const [a] = apps as [AppHandle, AppHandle];
    const before = hung.length;
    const started = performance.now();
    await write(a, 'POST', '', { title: 'webhook-hangs' });
    const took = performance.now() - started;
    await waitFor(() => hung.length > before, 5_000, 'the delivery');
    const delivery = hung[hung.length - 1]!;
    expect(JSON.parse(delivery.body).tags).toEqual(['ct:api::article.article']);
    // the receiver never answered; the write did not wait for it (its timeout is 120 s)
    expect(took).toBeLessThan(5_000);
  });

  it('warm: the listed path was filled after boot (no request asked for it), and again after a purge', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const c = client();
    try {
      // the warm-up request carries no headers: its key has no accept-language (fetch sends '*' unless told otherwise)
      const indexed = async () => (await c.zrange(`${run}ti:{ct:api::article.article}`, 0, -1)).filter((k) => k.includes('?warm=1'));
      const entries = async () => {
        const keys = await indexed();
        let n = 0;
        for (const k of keys) n += await c.exists(k);
        return n;
      };
      // The warm-up runs in the background after boot (bounded); on a loaded machine it may still be at work.
      await waitFor(async () => (await entries()) === 1, 10_000, 'the warm-up after boot');
      expect(await indexed()).toEqual([expect.stringMatching(/e:GET \/api\/articles\?warm=1\|schema=[0-9a-f]{8}$/)]);
      expect((await get(b, '/api/articles?warm=1', { 'accept-language': '' })).cache).toBe('HIT');
      await write(a, 'POST', '', { title: 'warm-after' });
      // the purge removed it; the warm-up after the purge filled it again, with the new row
      await waitFor(async () => (await entries()) === 1, 10_000, 'the warm-up after the purge');
      const again = await get(b, '/api/articles?warm=1', { 'accept-language': '' });
      expect(again.cache).toBe('HIT');
      expect(titles(again.json())).toContain('warm-after');
    } finally {
      c.disconnect();
    }
  });

  it('a write on A purges at once: A and B both serve fresh data on the next read', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const doc = await write(a, 'POST', '', { title: 'before' });
    for (const app of [a, b]) {
      await get(app, '/api/articles');
      await get(app, `/api/articles/${doc.documentId}`);
      expect((await get(app, '/api/articles')).cache).toBe('HIT');
      expect((await get(app, `/api/articles/${doc.documentId}`)).cache).toBe('HIT');
    }
    await write(a, 'PUT', `/${doc.documentId}`, { title: 'after' });
    const listB = await get(b, '/api/articles');
    expect(listB.cache).toBe('MISS');
    expect(titles(listB.json())).toContain('after');
    expect(titles(listB.json())).not.toContain('before');
    const oneB = await get(b, `/api/articles/${doc.documentId}`);
    expect(oneB.cache).toBe('MISS');
    expect((oneB.json().data as Article).title).toBe('after');
    expect((await get(a, '/api/articles')).cache).toBe('HIT'); // B re-filled it with fresh data
    expect(titles((await get(a, '/api/articles')).json())).toContain('after');
  });

  it('an update inside an outer transaction purges when it commits: B caches the old rows while it is open, the first read after the commit is fresh', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const doc = await write(a, 'POST', '', { title: 'tx-before' });
    const one = `/api/articles/${doc.documentId}`;
    const purgesBefore = await purges(a);
    // three updates in one transaction, as a bulk action makes: one purge at commit
    const pending = inTransaction(a, doc.documentId, { title: 'tx-after' }, '?times=3');
    await waitFor(async () => (await txState(a)) === 'updated', 20_000, 'the update inside the open transaction');
    // the document-service call has returned; the transaction is not committed: B reads the old rows and caches them
    const during = await get(b, one);
    expect(during.cache).toBe('MISS');
    expect((during.json().data as Article).title).toBe('tx-before');
    expect((await get(b, one)).cache).toBe('HIT');
    const listDuring = await get(b, '/api/articles');
    expect(titles(listDuring.json())).toContain('tx-before');
    expect((await get(b, '/api/articles')).cache).toBe('HIT');
    await fetch(`${a.url}/api/cache-probe/tx-release`, { method: 'POST' });
    const res = await pending;
    expect(res.status, await res.clone().text()).toBe(200);
    // the response of the write waited for the purge at commit: the very next read is fresh
    const after = await get(b, one);
    expect(after.cache).toBe('MISS');
    expect((after.json().data as Article).title).toBe('tx-after');
    const listAfter = await get(b, '/api/articles');
    expect(listAfter.cache).toBe('MISS');
    expect(titles(listAfter.json())).toContain('tx-after');
    expect(titles(listAfter.json())).not.toContain('tx-before');
    expect(await purges(a)).toBe(purgesBefore + 1);
  });

  it('an update in an outer transaction that rolls back purges nothing: the cached rows (still the current ones) stay', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const doc = await write(a, 'POST', '', { title: 'rb-before' });
    const one = `/api/articles/${doc.documentId}`;
    await get(b, one);
    expect((await get(b, one)).cache).toBe('HIT');
    const purgesBefore = await purges(a);
    const pending = inTransaction(a, doc.documentId, { title: 'rb-after' }, '?fail=1');
    await waitFor(async () => (await txState(a)) === 'updated', 20_000, 'the update inside the open transaction');
    await fetch(`${a.url}/api/cache-probe/tx-release`, { method: 'POST' });
    expect((await pending).status).toBe(409);
    expect(await purges(a)).toBe(purgesBefore);
    const after = await get(b, one);
    expect(after.cache).toBe('HIT');
    expect((after.json().data as Article).title).toBe('rb-before');
    // the database agrees: a read past the cache (credentials bypass it) sees the old title
    const { accessKey } = await apiToken(a);
    const direct = await get(a, one, { authorization: `Bearer ${accessKey}` });
    expect(direct.cache).toBe('BYPASS');
    expect((direct.json().data as Article).title).toBe('rb-before');
  });

  it('50 concurrent misses of one key, split over both instances, run the controller once', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const calls = async () => {
      let sum = 0;
      for (const app of [a, b]) sum += ((await (await fetch(`${app.url}/api/cache-probe/find-calls`)).json()) as { calls: number }).calls;
      return sum;
    };
    // An earlier test's write purged the warm path: its warm-up runs find in the background. Let
    // it finish (the warm entry is back) before counting this test's controller runs.
    const c = client();
    try {
      await waitFor(
        async () => {
          for (const k of await c.zrange(`${run}ti:{ct:api::article.article}`, 0, -1)) if (k.includes('?warm=1') && (await c.exists(k)) === 1) return true;
          return false;
        },
        10_000,
        'the warm-up after the last purge',
      );
    } finally {
      c.disconnect();
    }
    const before = await calls();
    const path = `/api/articles?coalesce=${Date.now()}`;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => get(i % 2 ? b : a, path)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect(await calls()).toBe(before + 1);
    expect(results.filter((r) => r.cache === 'MISS')).toHaveLength(1);
  });

  it('stale-while-revalidate: 50 concurrent requests for an expired entry, split over both instances, get the stale body; the controller runs once', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const path = `/api/articles?swr=${Date.now()}`;
    const first = await get(a, path);
    expect(first.cache).toBe('MISS');
    const before = await findCalls(apps);
    // the refresh's find waits until released: every request is answered while it runs
    await setClock(apps, MAX_AGE + 1, { holdFind: true });
    try {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => get(i % 2 ? b : a, path)));
      expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
      expect(results.map((r) => r.cache)).toEqual(Array(50).fill('STALE'));
      expect(new Set(results.map((r) => r.text))).toEqual(new Set([first.text]));
      await waitFor(async () => (await findCalls(apps)) === before + 1, 10_000, 'the refresh to reach the controller');
      await setClock(apps, MAX_AGE + 1, { holdFind: false });
      await waitFor(async () => (await get(b, path)).cache === 'HIT', 20_000, 'the refreshed entry');
      expect((await get(a, path)).cache).toBe('HIT');
      expect(await findCalls(apps)).toBe(before + 1);
      const stats = await Promise.all(
        apps.map(async (app) => (await (await fetch(`${app.url}/api/cache-probe/cache-stats`)).json()) as { stale: number; refreshes: number }),
      );
      expect(stats.reduce((n, s) => n + s.refreshes, 0)).toBe(1);
      expect(stats.reduce((n, s) => n + s.stale, 0)).toBeGreaterThanOrEqual(50);
    } finally {
      await setClock(apps, 0);
    }
  });

  it('stale-if-error: past the SWR window the article controller throws on both instances; the stored body is served, one warning per instance', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const path = `/api/articles?sie=${Date.now()}`;
    const first = await get(a, path);
    expect(first.cache).toBe('MISS');
    const warnings = () =>
      apps.map(
        (app) =>
          app
            .logs()
            .split('\n')
            .filter((l) => l.includes('cache probe: find fails') && l.includes('STALE-IF-ERROR')).length,
      );
    expect(warnings()).toEqual([0, 0]);
    await setClock(apps, MAX_AGE + SWR + 1, { failFind: true });
    try {
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => get(i % 2 ? b : a, path)));
      expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
      expect(results.map((r) => r.cache)).toEqual(Array(6).fill('STALE-IF-ERROR'));
      expect(new Set(results.map((r) => r.text))).toEqual(new Set([first.text]));
      await waitFor(() => warnings().every((n) => n >= 1), 5_000, 'the warnings');
      expect(warnings()).toEqual([1, 1]);
    } finally {
      await setClock(apps, 0);
    }
  });

  it('purge endpoint: POST /api/redis-cache/purge needs the plugin::redis.cache-purge.purge permission; purges on every instance; logged with the token id', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const path = `/api/articles?purge-endpoint=${Date.now()}`;
    await get(a, path);
    expect((await get(b, path)).cache).toBe('HIT');
    expect((await purgeCall(b, { all: true })).status).toBe(403); // no token: the public role lacks the action
    const other = await apiToken(a, ['api::article.article.find']);
    expect((await purgeCall(b, { all: true }, other.accessKey)).status).toBe(403);
    const token = await apiToken(a, ['plugin::redis.cache-purge.purge']);
    expect((await purgeCall(b, { tags: [] }, token.accessKey)).status).toBe(400);
    expect((await purgeCall(b, { all: true, tags: ['x'] }, token.accessKey)).status).toBe(400);
    const res = await purgeCall(b, { contentTypes: ['api::article.article'] }, token.accessKey);
    expect(res.status, await res.clone().text()).toBe(200);
    const body = (await res.json()) as { purged: number; tags: string[] };
    expect(body.tags).toEqual(['ct:api::article.article']);
    expect(body.purged).toBeGreaterThanOrEqual(1);
    expect((await get(a, path)).cache).toBe('MISS');
    const all = await purgeCall(a, { all: true }, token.accessKey);
    expect(all.status).toBe(200);
    expect((await get(b, path)).cache).toBe('MISS');
    const lines = b
      .logs()
      .split('\n')
      .filter((l) => l.includes('purge endpoint called by'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`API token id ${token.id}: contentTypes ct:api::article.article removed`);
    expect(b.logs()).not.toContain(token.accessKey);
    expect(
      a
        .logs()
        .split('\n')
        .filter((l) => l.includes(`purge endpoint called by API token id ${token.id}: all removed`)),
    ).toHaveLength(1);
  });

  it("a write through Strapi's REST API (PUT /api/articles/:id with an API token) on A purges B's entries too", async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const doc = await write(a, 'POST', '', { title: 'rest-before' });
    const { accessKey } = await apiToken(a);
    await get(b, `/api/articles/${doc.documentId}`);
    expect((await get(b, `/api/articles/${doc.documentId}`)).cache).toBe('HIT');
    const put = await fetch(`${a.url}/api/articles/${doc.documentId}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessKey}` },
      body: JSON.stringify({ data: { title: 'rest-after' } }),
    });
    expect(put.status, await put.clone().text()).toBe(200);
    const oneB = await get(b, `/api/articles/${doc.documentId}`);
    expect(oneB.cache).toBe('MISS');
    expect((oneB.json().data as Article).title).toBe('rest-after');
  });

  it('an update through a GraphQL mutation on A purges the cached REST reads on A and B: the next read is fresh', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const doc = await write(a, 'POST', '', { title: 'gql-before' });
    const { accessKey } = await apiToken(a);
    const one = `/api/articles/${doc.documentId}`;
    // Cached on both instances before the mutation: without a purge, every read below is this HIT.
    for (const app of [a, b]) {
      await get(app, '/api/articles');
      await get(app, one);
      const cachedList = await get(app, '/api/articles');
      expect(cachedList.cache).toBe('HIT');
      expect(titles(cachedList.json())).toContain('gql-before');
      expect((await get(app, one)).cache).toBe('HIT');
    }
    const res = await fetch(`${a.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessKey}` },
      body: JSON.stringify({
        query: 'mutation Rename($id: ID!, $title: String) { updateArticle(documentId: $id, data: { title: $title }) { documentId title } }',
        variables: { id: doc.documentId, title: 'gql-after' },
      }),
    });
    const body = (await res.json()) as { data?: { updateArticle?: Article }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data?.updateArticle?.title).toBe('gql-after');
    const oneB = await get(b, one);
    expect(oneB.cache).toBe('MISS');
    expect((oneB.json().data as Article).title).toBe('gql-after');
    const listA = await get(a, '/api/articles');
    expect(listA.cache).toBe('MISS');
    expect(titles(listA.json())).toContain('gql-after');
    expect(titles(listA.json())).not.toContain('gql-before');
  });

  it('as a route middleware with byCaller: each API token gets its own entry, keyed by token id; no token is refused', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const [t1, t2] = [await apiToken(a), await apiToken(a)];
    const whoami = (app: AppHandle, key?: string) => get(app, '/api/cache-probe/whoami', key ? { authorization: `Bearer ${key}` } : {});
    const first = await whoami(a, t1.accessKey);
    expect(first.cache).toBe('MISS');
    expect((first.json() as unknown as { tokenId: number }).tokenId).toBe(t1.id);
    const again = await whoami(b, t1.accessKey);
    expect(again.cache).toBe('HIT'); // B serves A's entry for the same caller
    expect(again.text).toBe(first.text);
    const other = await whoami(a, t2.accessKey);
    expect(other.cache).toBe('MISS');
    expect((other.json() as unknown as { tokenId: number }).tokenId).toBe(t2.id);
    // authentication still runs before a hit: no token, no answer
    expect((await whoami(b)).status).toBe(403);
    const c = client();
    try {
      const members = await c.zrange(`${run}probe:ti:{route:/api/cache-probe/whoami}`, 0, -1);
      // fetch sends accept-language: *, a key header by default
      const keyOf = (id: number) => `${run}probe:e:GET /api/cache-probe/whoami|accept-language=*|caller=t:${id}`;
      expect(members.sort()).toEqual([keyOf(t1.id), keyOf(t2.id)].sort());
      expect(members.join()).not.toContain(t1.accessKey);
    } finally {
      c.disconnect();
    }
  });

  it('logs no cache trouble', () => {
    const trouble = /response cache \(connection|purge of .* failed|Unhandled error event|CROSSSLOT/;
    for (const app of apps)
      expect(
        app
          .logs()
          .split('\n')
          .filter((line) => trouble.test(line)),
      ).toEqual([]);
  });
});

describe('response cache in Strapi when Redis dies mid-load', () => {
  it('every request is answered from the origin within the bound, and caching resumes after a restart', async () => {
    const { startStandalone } = await import('../harness/servers.js');
    const server = await startStandalone();
    // readTimeout 1 s: a 50 ms read that times out on a loaded machine before the kill would be an
    // outage of its own (a second warning); after the kill reads fail at once whatever the bound.
    const app = await startApp({
      pluginConfig: { connections: { default: { connection: server.url, requestTimeout: 300 } } },
      middlewares: `module.exports = (defaults) => [...defaults, { name: 'plugin::redis.cache', config: { connection: 'default', prefix: ${JSON.stringify(`${prefix}kill:`)}, readTimeout: 1000, contentTypes: ['api::article.article'] } }];`,
    });
    try {
      const hit = async () => {
        const started = performance.now();
        const r = await get(app, '/api/articles');
        return { ...r, ms: performance.now() - started };
      };
      await hit();
      expect((await hit()).cache).toBe('HIT');
      // purgeEndpoint is off in this app: the route does not exist
      const purge = await fetch(`${app.url}/api/redis-cache/purge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"all":true}' });
      expect(purge.status).toBe(404);
      // load in flight while the server dies
      const load = Promise.all(Array.from({ length: 60 }, (_, i) => new Promise((r) => setTimeout(r, i * 10)).then(hit)));
      await new Promise((r) => setTimeout(r, 200));
      await server.kill('SIGKILL');
      const during = await load;
      expect(during.every((r) => r.status === 200)).toBe(true);
      // after the kill: answered by the origin (MISS), each well within the bound plus the handler
      const after = await Promise.all(Array.from({ length: 20 }, hit));
      expect(after.every((r) => r.status === 200 && r.cache === 'MISS')).toBe(true);
      expect(Math.max(...after.map((r) => r.ms))).toBeLessThan(1500);
      await server.restart();
      await waitFor(async () => (await hit()).cache === 'HIT', 20_000, 'a HIT after the restart');
      const logs = app.logs();
      // one warning for the outage (the connection's own "is down" line aside), one line when it is back
      expect(logs.match(/response cache \(connection "default".*Redis failed/g)).toHaveLength(1);
      expect(logs).toMatch(/response cache \(connection "default".*Redis answers again after \d+ ms/);
      expect(logs).not.toMatch(/Unhandled error event/);
    } finally {
      await app.stop();
      await server.stop();
    }
  }, 90_000);
});
