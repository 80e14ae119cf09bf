// Scenario "apollo": Apollo Server 4 response-cache hits (the same query, every request a hit)
// with the suite's Redis cache, against Apollo's default in-memory cache (not shared between
// instances) and against @keyv/redis 5 (its own node-redis client), in one server process.
import { fileURLToPath } from 'node:url';
import { compare, startServer } from '../lib/runner.mjs';

export const title = 'Apollo: response-cache hits, Redis cache vs in-memory vs @keyv/redis';
export const target = '`ours` >= 0.9x of `memory` (while shared across instances) and `ours` ahead of `keyv-redis`';

const QUERY = encodeURIComponent('{ books { title author year } }');

export async function measure({ redisUrl, opts }) {
  const server = await startServer(fileURLToPath(new URL('./apollo-server.mjs', import.meta.url)), { REDIS_URL: redisUrl });
  try {
    const rows = await compare(
      `http://127.0.0.1:${server.port}`,
      [
        { name: 'memory', path: `/memory?query=${QUERY}`, what: "Apollo's default cache (in-memory LRU, per process)" },
        { name: 'keyv-redis', path: `/keyv-redis?query=${QUERY}`, what: 'KeyvAdapter + Keyv + `@keyv/redis` 5 (node-redis)', baseline: 'memory' },
        { name: 'ours', path: `/ours?query=${QUERY}`, what: '`createApolloCache()` (KeyvAdapter + Keyv + ioredis, bounded)', baseline: 'memory' },
      ],
      opts,
    );
    const ours = rows.find((r) => r.name === 'ours');
    const keyvRedis = rows.find((r) => r.name === 'keyv-redis');
    // the same measurement of `ours`, as a ratio to @keyv/redis
    rows.push({
      ...ours,
      name: 'ours/keyv',
      what: '`ours` relative to `keyv-redis` (same samples)',
      baselineOf: 'keyv-redis',
      ratio: ours.rps / keyvRedis.rps,
    });
    return { rows, pass: ours.ratio >= 0.9 && ours.rps > keyvRedis.rps };
  } finally {
    await server.stop();
  }
}
