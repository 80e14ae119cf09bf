/**
 * The Apollo cache in real Strapi: two playground instances (own folders, own SQLite databases)
 * with @strapi/plugin-graphql 5.54 and `createApolloCache({ connection: 'default' })` in
 * `graphql.config.apolloServer.cache`, as a user writes it in config/plugins. Each instance seeds
 * a different article; a response cached through A is served by B (B answers with A's article),
 * and a persisted query registered on A is known to B.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../helpers/logger.js';
import { ensurePlaygroundInstalled, startApp, type AppHandle } from './app.js';

const redis = inject('redis');

// graphql.config as a user would write it (CommonJS, like the playground's config/plugins.js).
// Packages resolve from the app folder (the process' cwd), where Strapi and the plugin are installed.
const GRAPHQL_CONFIG = `'use strict';
const { createRequire } = require('node:module');
const path = require('node:path');
const appRequire = createRequire(path.join(process.cwd(), 'package.json'));
const { createApolloCache } = appRequire('strapi-plugin-redis-suite');
const { ApolloServerPluginCacheControl } = appRequire('@apollo/server/plugin/cacheControl');
const responseCachePlugin = appRequire('@apollo/server-plugin-response-cache').default;

// Test data: each instance writes its own article into its own database when Apollo starts.
const seed = {
  async serverWillStart() {
    await strapi.documents('api::article.article').create({ data: { title: process.env.E2E_SEED_TITLE } });
  },
};

module.exports = {
  apolloServer: {
    // Created while config loads, before the redis plugin has any connection: resolved on first use.
    cache: createApolloCache({ connection: 'default', namespace: process.env.E2E_APOLLO_NAMESPACE }),
    plugins: [ApolloServerPluginCacheControl({ defaultMaxAge: 60 }), responseCachePlugin(), seed],
  },
};
`;

const QUERY = 'query E2eTitles { articles { title } }';
const APQ_QUERY = 'query E2eApq { articles { documentId title } }';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** The key the response cache plugin (4.1.4, default key, no session) uses after Apollo's `fqc:` prefix. */
const fqcKey = (query: string, operationName: string) =>
  `fqc:${sha256(JSON.stringify({ source: query, operationName, variables: {}, extra: null, sessionMode: 0 }))}`;

interface GqlResult {
  status: number;
  age: string | null;
  titles: string[] | undefined;
  errors: unknown;
}

async function gql(app: AppHandle, body: Record<string, unknown>): Promise<GqlResult> {
  const res = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as { data?: { articles?: Array<{ title: string }> }; errors?: unknown };
  return { status: res.status, age: res.headers.get('age'), titles: json.data?.articles?.map((a) => a.title), errors: json.errors };
}

describe('two Strapi instances share the Apollo response cache and persisted queries through Redis', () => {
  const run = randomBytes(6).toString('hex');
  const namespace = `t:e2e-apollo:${run}`;
  const titleA = `from-A-${run}`;
  const titleB = `from-B-${run}`;
  let dir: string;
  let a: AppHandle;
  let b: AppHandle;
  let client: Redis;

  beforeAll(async () => {
    await ensurePlaygroundInstalled({ quiet: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-e2e-graphql-'));
    const configFile = path.join(dir, 'graphql-config.js');
    fs.writeFileSync(configFile, GRAPHQL_CONFIG);
    const env = (title: string) => ({ GRAPHQL_PLUGIN_CONFIG: configFile, E2E_APOLLO_NAMESPACE: namespace, E2E_SEED_TITLE: title });
    const started = await Promise.allSettled([
      startApp({ redisUrl: redis.standalone.url, env: env(titleA) }),
      startApp({ redisUrl: redis.standalone.url, env: env(titleB) }),
    ]);
    for (const handle of started)
      if (handle.status === 'fulfilled') {
        if (a) b = handle.value;
        else a = handle.value;
      }
    const failed = started.find((handle): handle is PromiseRejectedResult => handle.status === 'rejected');
    if (failed) throw failed.reason;
    client = new Redis(redis.standalone.url);
  });

  afterAll(async () => {
    client?.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('each instance has its own data (different queries, so different cache entries)', async () => {
    expect(await gql(a, { query: 'query OwnA { articles { title } }' })).toMatchObject({ status: 200, titles: [titleA], age: null });
    expect(await gql(b, { query: 'query OwnB { articles { title } }' })).toMatchObject({ status: 200, titles: [titleB], age: null });
  });

  it("a query cached through A (fqc: key, PX from the 60 s hint) is a hit on B: B answers with A's article", async () => {
    const first = await gql(a, { query: QUERY });
    expect(first).toMatchObject({ status: 200, titles: [titleA], age: null });

    const key = `${namespace}:${fqcKey(QUERY, 'E2eTitles')}`;
    await waitFor(async () => (await client.exists(key)) === 1, 5000, 'the fqc: key');
    const pttl = await client.pttl(key);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);

    const onB = await gql(b, { query: QUERY });
    expect(onB.status).toBe(200);
    expect(onB.titles).toEqual([titleA]); // B's own database holds only titleB
    expect(onB.age).not.toBeNull(); // the response cache plugin sets `age` on hits only
  });

  it('a persisted query registered on A (apq: key) is known to B', async () => {
    const hash = sha256(APQ_QUERY);
    const pq = { persistedQuery: { version: 1, sha256Hash: hash } };
    const unknown = await gql(b, { extensions: pq });
    expect(JSON.stringify(unknown.errors)).toContain('PERSISTED_QUERY_NOT_FOUND');

    const registered = await gql(a, { query: APQ_QUERY, extensions: pq });
    expect(registered).toMatchObject({ status: 200, titles: [titleA] });
    await waitFor(async () => (await client.get(`${namespace}:apq:${hash}`)) === APQ_QUERY, 5000, 'the apq: key');
    // Apollo gives persisted queries no TTL: they live the default maxTtl (24 h), never forever
    const pttl = await client.pttl(`${namespace}:apq:${hash}`);
    expect(pttl).toBeGreaterThan(86_400_000 - 60_000);
    expect(pttl).toBeLessThanOrEqual(86_400_000);

    const byHash = await gql(b, { extensions: pq });
    expect(byHash.errors).toBeUndefined();
    expect(byHash.status).toBe(200);
  });

  it('logs no cache trouble', () => {
    for (const app of [a, b]) expect(app.logs()).not.toMatch(/Apollo cache|Unhandled error event/);
  });
});
