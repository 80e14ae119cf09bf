/**
 * Fail open with a real outage: a Redis of this test's own is killed (SIGKILL) and hung (SIGSTOP)
 * under a real Apollo Server on HTTP. Queries are still answered within the bound, one warning
 * is logged per outage, and the cache works again after the restart.
 */
import { startStandaloneServer } from '@apollo/server/standalone';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { createApolloCache, type RedisApolloCache } from '../../src/graphql/index.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger, waitFor, type CapturedLogger } from '../helpers/logger.js';
import { BOOKS, startApollo, type TestServer } from './apollo.js';

const TIMEOUT_MS = 250;
// what "answered within the bound" allows on top of the Redis bound: HTTP, Apollo, a loaded 2-core machine
const SLACK_MS = 750;

describe('Redis killed and hung under a running Apollo Server', () => {
  let redis: ServerHandle;
  let registry: RedisRegistry;
  let logger: CapturedLogger;
  let cache: RedisApolloCache;
  let apollo: TestServer;
  let url: string;

  beforeAll(async () => {
    redis = await startStandalone();
    logger = captureLogger();
    registry = createRedisRegistry({ connections: { cache: { connection: redis.url, requestTimeout: TIMEOUT_MS } } }, { logger });
    await registry.waitUntilReady();
    cache = createApolloCache({ registry, connection: 'cache', namespace: randomPrefix('outage').slice(0, -1), logger });
    apollo = await startApollo({ cache }, { start: false });
    ({ url } = await startStandaloneServer(apollo.server, { listen: { port: 0, host: '127.0.0.1' } }));
  });

  afterAll(async () => {
    redis?.resume();
    await apollo?.stop();
    await registry?.close();
    await redis?.stop();
  });

  /** POST the query over HTTP; how long it took and whether it was a cache hit. */
  async function query(): Promise<{ ms: number; status: number; hit: boolean; books: unknown }> {
    const started = performance.now();
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: BOOKS }) });
    const body = (await res.json()) as { data?: { books?: unknown } };
    return { ms: performance.now() - started, status: res.status, hit: res.headers.has('age'), books: body.data?.books };
  }

  const cacheLines = (level: 'warn' | 'info' | 'error') => logger.of(level).filter((l) => l.includes('Apollo cache'));

  it('serves hits from Redis while it is up', async () => {
    expect((await query()).hit).toBe(false);
    await waitFor(async () => (await query()).hit, 5000, 'a cache hit');
  });

  it('killed: every query is answered at once (misses), one warning for the whole outage; after restart() hits resume', async () => {
    const callsBefore = apollo.calls.books;
    await redis.kill('SIGKILL');
    const during = [];
    for (let i = 0; i < 10; i++) during.push(await query());
    for (const r of during) {
      expect(r.status).toBe(200);
      expect(r.books).toHaveLength(2);
      expect(r.hit).toBe(false);
      expect(r.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    }
    expect(apollo.calls.books - callsBefore).toBe(10); // every one executed
    expect(cacheLines('warn')).toHaveLength(1);
    expect(cacheLines('warn')[0]).toMatch(
      /Apollo cache \(connection "cache", namespace "t:outage:[0-9a-f]+"\): Redis failed: .* cache reads are misses and writes are skipped/,
    );

    await redis.restart();
    // the entry written before the kill died with the server (no persistence): the next query
    // writes it again, a later one is a hit
    await waitFor(async () => (await query()).hit, 15_000, 'cache hits after restart()');
    expect(cacheLines('info')).toHaveLength(1);
    expect(cacheLines('info')[0]).toMatch(/Redis answers again after \d+ ms \(\d+ failed commands? meanwhile\)/);
    expect(cacheLines('warn')).toHaveLength(1);
    expect(cache.counters.readErrors).toBeGreaterThanOrEqual(10);
  });

  it('hung (SIGSTOP, the socket stays open): reads time out after the bound and queries are answered', async () => {
    const warnsBefore = cacheLines('warn').length;
    redis.pause();
    try {
      const during = [];
      for (let i = 0; i < 3; i++) during.push(await query());
      for (const r of during) {
        expect(r.status).toBe(200);
        expect(r.books).toHaveLength(2);
        expect(r.hit).toBe(false);
        expect(r.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      }
      // The first query waited for Redis, up to the bound; the next ones did not wait at all: their
      // commands are refused while the first one's is unanswered (tests/chaos/unanswered.test.ts).
      expect(during[0]!.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      for (const r of during.slice(1)) expect(r.ms).toBeLessThan(TIMEOUT_MS - 5);
      expect(cacheLines('warn')).toHaveLength(warnsBefore + 1);
      expect(cacheLines('warn').at(-1)).toMatch(/did not answer within 250 ms/);
    } finally {
      redis.resume();
    }
    await waitFor(async () => (await query()).hit, 15_000, 'cache hits after resume()');
  });
});
