/**
 * plugin::redis.cache in two real Strapi 5 instances sharing one Redis: the article content type's
 * REST find/findOne are cached, and a write through the document service on one instance purges
 * the entries both serve from (the next read on either is fresh).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomPrefix } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { ensurePlaygroundInstalled, startApp, type AppHandle } from './app.js';

const redis = inject('redis');
let apps: AppHandle[] = [];
const prefix = randomPrefix('e2e-cache');
// Both instances use one database (as a real deployment does), so a write on A is data B reads.
const dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-e2e-cache-db-'));

beforeAll(async () => {
  await ensurePlaygroundInstalled({ quiet: true });
  const config = { connection: 'default', prefix, maxAge: 60_000, contentTypes: ['api::article.article'], coalesce: { lockTTL: 10_000, maxWait: 5_000, pollInterval: 20 } };
  const middlewares = `module.exports = (defaults) => [...defaults, { name: 'plugin::redis.cache', config: ${JSON.stringify(config)} }];`;
  const start = () =>
    startApp({
      pluginConfig: { connections: { default: { connection: redis.standalone.url } } },
      middlewares,
      env: { DATABASE_FILENAME: path.join(dbDir, 'data.db'), PLAYGROUND_CACHE_PROBE: `${prefix}probe:` },
    });
  // one after the other: the first boot creates the schema
  apps.push(await start());
  apps.push(await start());
}, 120_000);

afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop()));
  fs.rmSync(dbDir, { recursive: true, force: true });
});

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
  const res = await fetch(`${app.url}/api/cache-probe/articles${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: Article }).data;
}

const titles = (body: { data: unknown }) => (body.data as Article[]).map((a) => a.title);

describe('response cache in Strapi', () => {
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

  it('50 concurrent misses of one key, split over both instances, run the controller once', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const calls = async () => {
      let sum = 0;
      for (const app of [a, b]) sum += ((await (await fetch(`${app.url}/api/cache-probe/find-calls`)).json()) as { calls: number }).calls;
      return sum;
    };
    const before = await calls();
    const path = `/api/articles?coalesce=${Date.now()}`;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => get(i % 2 ? b : a, path)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect(await calls()).toBe(before + 1);
    expect(results.filter((r) => r.cache === 'MISS')).toHaveLength(1);
  });

  it("a write through Strapi's REST API (PUT /api/articles/:id with an API token) on A purges B's entries too", async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const doc = await write(a, 'POST', '', { title: 'rest-before' });
    const { accessKey } = (await (await fetch(`${a.url}/api/cache-probe/tokens`, { method: 'POST' })).json()) as { accessKey: string };
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

  it('as a route middleware with byCaller: each API token gets its own entry, keyed by token id; no token is refused', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const token = async () => (await (await fetch(`${a.url}/api/cache-probe/tokens`, { method: 'POST' })).json()) as { id: number; accessKey: string };
    const [t1, t2] = [await token(), await token()];
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
    const client = await import('ioredis').then((m) => new m.Redis(redis.standalone.url));
    try {
      const members = await client.smembers(`${prefix}probe:t:route:/api/cache-probe/whoami`);
      // fetch sends accept-language: *, a key header by default
      const keyOf = (id: number) => `${prefix}probe:e:GET /api/cache-probe/whoami|accept-language=*|caller=t:${id}`;
      expect(members.sort()).toEqual([keyOf(t1.id), keyOf(t2.id)].sort());
      expect(members.join()).not.toContain(t1.accessKey);
    } finally {
      client.disconnect();
    }
  });
});

describe('response cache in Strapi when Redis dies mid-load', () => {
  it('every request is answered from the origin within the bound, and caching resumes after a restart', async () => {
    const { startStandalone } = await import('../harness/servers.js');
    const server = await startStandalone();
    const app = await startApp({
      pluginConfig: { connections: { default: { connection: server.url, requestTimeout: 300 } } },
      middlewares: `module.exports = (defaults) => [...defaults, { name: 'plugin::redis.cache', config: { connection: 'default', prefix: ${JSON.stringify(`${prefix}kill:`)}, contentTypes: ['api::article.article'] } }];`,
    });
    try {
      const hit = async () => {
        const started = performance.now();
        const r = await get(app, '/api/articles');
        return { ...r, ms: performance.now() - started };
      };
      await hit();
      expect((await hit()).cache).toBe('HIT');
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
