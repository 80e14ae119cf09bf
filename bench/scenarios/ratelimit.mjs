// Scenario "ratelimit": the cost of `rateLimit()` (one Lua call per batch of a key's concurrent hits) against no
// limiter and against koa2-ratelimit's in-process MemoryStore; and koa2-ratelimit's own middleware
// on `RedisRateLimitStore` (how Strapi's login limiters use it).
import { fileURLToPath } from 'node:url';
import { compare, startServer } from '../lib/runner.mjs';

export const title = 'Rate limit: rateLimit() on Redis vs no limiter, koa2-ratelimit (memory and its RedisStore) and rate-limiter-flexible';
export const target = 'issue goal: `redis` >= 0.85x of `baseline` and ahead of `flexible` and `koa2-redis`';

export async function measure({ redisUrl, opts }) {
  const server = await startServer(fileURLToPath(new URL('./ratelimit-server.mjs', import.meta.url)), { REDIS_URL: redisUrl });
  try {
    const rows = await compare(
      `http://127.0.0.1:${server.port}`,
      [
        { name: 'baseline', path: '/baseline', what: 'Koa handler, no limiter' },
        { name: 'memory', path: '/memory', what: 'koa2-ratelimit, its MemoryStore (per process: N instances allow N x max)', baseline: 'baseline' },
        {
          name: 'redis',
          path: '/redis',
          what: '`rateLimit()` (defaults): one EVALSHA (INCRBY + PEXPIRE when new) per batch of concurrent hits on the key, bounded; exact per-request counts',
          baseline: 'baseline',
        },
        { name: 'redis-single', path: '/redis-single', what: '`rateLimit({ coalesce: false })`: one EVALSHA per request', baseline: 'baseline' },
        {
          name: 'redis-distinct',
          path: '/redis-distinct',
          what: '`rateLimit()` with every request on its own key (nothing to coalesce)',
          baseline: 'baseline',
        },
        { name: 'redis-pipelined', path: '/redis-pipelined', what: '`rateLimit()` on a connection with `enableAutoPipelining: true`', baseline: 'baseline' },
        { name: 'flexible', path: '/flexible', what: 'rate-limiter-flexible 11 `RateLimiterRedis` on ioredis', baseline: 'baseline' },
        { name: 'koa2-redis', path: '/koa2-redis', what: "koa2-ratelimit's own RedisStore (node-redis 4; GET then SET, not atomic)", baseline: 'baseline' },
        { name: 'store', path: '/store', what: 'koa2-ratelimit middleware on `RedisRateLimitStore`', baseline: 'baseline' },
      ],
      opts,
    );
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
    const best = Math.max(redis.ratio, rows.find((r) => r.name === 'redis-pipelined').ratio);
    const peers = Math.max(rows.find((r) => r.name === 'flexible').ratio, rows.find((r) => r.name === 'koa2-redis').ratio);
    return { rows, pass: best >= 0.85 && best > peers };
  } finally {
    await server.stop();
  }
}
