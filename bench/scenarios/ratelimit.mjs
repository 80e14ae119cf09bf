// Scenario "ratelimit": the cost of `rateLimit()` (one Lua call per request on Redis) against no
// limiter and against koa2-ratelimit's in-process MemoryStore; and koa2-ratelimit's own middleware
// on `RedisRateLimitStore` (how Strapi's login limiters use it).
import { fileURLToPath } from 'node:url';
import { compare, startServer } from '../lib/runner.mjs';

export const title = 'Rate limit: rateLimit() on Redis vs no limiter vs koa2-ratelimit MemoryStore';
export const target = '`redis` >= 0.5x of `memory` (counting in Redis, shared by every instance, keeps at least half the throughput of an in-process count)';

export async function measure({ redisUrl, opts }) {
  const server = await startServer(fileURLToPath(new URL('./ratelimit-server.mjs', import.meta.url)), { REDIS_URL: redisUrl });
  try {
    const rows = await compare(`http://127.0.0.1:${server.port}`, [
      { name: 'baseline', path: '/baseline', what: 'Koa handler, no limiter' },
      { name: 'memory', path: '/memory', what: "koa2-ratelimit, its MemoryStore (per process: N instances allow N x max)", baseline: 'baseline' },
      { name: 'redis', path: '/redis', what: '`rateLimit()`: one EVALSHA (INCRBY + PEXPIRE when new) per request, bounded', baseline: 'baseline' },
      { name: 'store', path: '/store', what: 'koa2-ratelimit middleware on `RedisRateLimitStore`', baseline: 'baseline' },
    ], opts);
    const redis = rows.find((r) => r.name === 'redis');
    const memory = rows.find((r) => r.name === 'memory');
    // the same measurement as `redis`, as a ratio to the in-process store
    rows.splice(rows.indexOf(redis) + 1, 0, {
      name: 'redis÷memory',
      what: '`redis` as a ratio to `memory` (the price of one shared count across instances)',
      rps: redis.rps,
      p50: redis.p50,
      p99: redis.p99,
      baselineOf: 'memory',
      ratio: redis.rps / memory.rps,
    });
    return { rows, pass: redis.rps / memory.rps >= 0.5 };
  } finally {
    await server.stop();
  }
}
