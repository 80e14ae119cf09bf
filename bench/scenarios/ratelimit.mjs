// Scenario "ratelimit": the cost of `rateLimit()` (one Lua call per batch of a key's concurrent hits) against no
// limiter and against koa2-ratelimit's in-process MemoryStore; and koa2-ratelimit's own middleware
// on `RedisRateLimitStore` (how Strapi's login limiters use it).
import { fileURLToPath } from 'node:url';
import { startCluster } from '../lib/redis.mjs';
import { compare, startServer } from '../lib/runner.mjs';

export const title = 'Rate limit: rateLimit() on Redis vs no limiter, koa2-ratelimit (memory and its RedisStore) and rate-limiter-flexible';
export const target =
  'issue #20 goal: `redis` and `redis-distinct` >= 0.85x of `baseline`, each ahead of the peers on the same keys (`flexible`, `koa2-redis`; `-distinct`, `-zipf`); the Zipf and Cluster rows reported; `floor-distinct` shows what one Redis round trip per request costs by itself';

export async function measure({ redisUrl, redisPid, opts }) {
  const cluster = await startCluster();
  let server;
  try {
    server = await startServer(fileURLToPath(new URL('./ratelimit-server.mjs', import.meta.url)), {
      REDIS_URL: redisUrl,
      CLUSTER_NODES: JSON.stringify(cluster.nodes),
    });
    // CPU per request over the server and the Redis it uses (the run's redis-server; the Cluster's nodes for the -cluster rows)
    const cpuOf = (v) => ({ ...v, cpuPids: [server.pid, ...(v.name.endsWith('-cluster') ? cluster.pids : redisPid ? [redisPid] : [])] });
    const rows = await compare(
      `http://127.0.0.1:${server.port}`,
      [
        { name: 'baseline', path: '/baseline', what: 'Koa handler, no limiter' },
        { name: 'memory', path: '/memory', what: 'koa2-ratelimit, its MemoryStore (per process: N instances allow N x max)', baseline: 'baseline' },
        {
          name: 'redis',
          path: '/redis',
          what: '`rateLimit()` (defaults), one key: the hits of a turn are one increment, in one bounded script call; exact per-request counts',
          baseline: 'baseline',
        },
        {
          name: 'redis-single',
          path: '/redis-single',
          what: "`rateLimit({ coalesce: false })`, one key: one increment per request (all in the turn's one script call)",
          baseline: 'baseline',
        },
        {
          name: 'redis-distinct',
          path: '/redis-distinct',
          what: '`rateLimit()` with every request on its own key (one many-key script call per event-loop turn)',
          baseline: 'baseline',
        },
        {
          name: 'floor-distinct',
          path: '/floor-distinct',
          what: 'no limiter: one auto-pipelined `GET` per request on its own key through raw ioredis (the floor of any limiter that asks Redis per request)',
          baseline: 'baseline',
        },
        { name: 'redis-zipf', path: '/redis-zipf', what: '`rateLimit()`, 1,000 keys with a Zipf spread', baseline: 'baseline' },
        { name: 'redis-pipelined', path: '/redis-pipelined', what: '`rateLimit()` on a connection with `enableAutoPipelining: true`', baseline: 'baseline' },
        { name: 'flexible', path: '/flexible', what: 'rate-limiter-flexible 11 `RateLimiterRedis` on ioredis', baseline: 'baseline' },
        { name: 'koa2-redis', path: '/koa2-redis', what: "koa2-ratelimit's own RedisStore (node-redis 4; GET then SET, not atomic)", baseline: 'baseline' },
        { name: 'store', path: '/store', what: 'koa2-ratelimit middleware on `RedisRateLimitStore`', baseline: 'baseline' },
        { name: 'flexible-distinct', path: '/flexible-distinct', what: 'rate-limiter-flexible, every request on its own key', baseline: 'baseline' },
        { name: 'koa2-redis-distinct', path: '/koa2-redis-distinct', what: "koa2-ratelimit's RedisStore, every request on its own key", baseline: 'baseline' },
        { name: 'flexible-zipf', path: '/flexible-zipf', what: 'rate-limiter-flexible, 1,000 keys with a Zipf spread', baseline: 'baseline' },
        { name: 'koa2-redis-zipf', path: '/koa2-redis-zipf', what: "koa2-ratelimit's RedisStore, 1,000 keys with a Zipf spread", baseline: 'baseline' },
        { name: 'redis-cluster', path: '/redis-cluster', what: '`rateLimit()` on a 3-master Cluster, one key', baseline: 'baseline' },
        {
          name: 'redis-distinct-cluster',
          path: '/redis-distinct-cluster',
          what: '`rateLimit()` on the Cluster, every request on its own key (one write per node per turn)',
          baseline: 'baseline',
        },
        { name: 'redis-zipf-cluster', path: '/redis-zipf-cluster', what: '`rateLimit()` on the Cluster, 1,000 keys with a Zipf spread', baseline: 'baseline' },
      ].map(cpuOf),
      opts,
    );
    const row = (name) => rows.find((r) => r.name === name);
    // a measured row again, right after it, as a ratio to another row of the same run
    const ratioTo = (name, of, what) => {
      const r = row(name);
      rows.splice(rows.indexOf(r) + 1, 0, {
        name: `${name}÷${of.split('-')[0]}`,
        what,
        rps: r.rps,
        p50: r.p50,
        p99: r.p99,
        baselineOf: of,
        ratio: r.rps / row(of).rps,
      });
    };
    ratioTo('redis', 'memory', '`redis` as a ratio to `memory` (the price of one shared count across instances)');
    ratioTo('redis-distinct', 'floor-distinct', '`redis-distinct` as a ratio to `floor-distinct` (what the limiter costs beyond its round trip)');
    const ratio = (name) => row(name).ratio;
    const oneKey = ratio('redis') >= 0.85 && ratio('redis') > Math.max(ratio('flexible'), ratio('koa2-redis'));
    const manyKeys = ratio('redis-distinct') >= 0.85 && ratio('redis-distinct') > Math.max(ratio('flexible-distinct'), ratio('koa2-redis-distinct'));
    const zipf = ratio('redis-zipf') > Math.max(ratio('flexible-zipf'), ratio('koa2-redis-zipf'));
    return { rows, pass: oneKey && manyKeys && zipf };
  } finally {
    await server?.stop();
    await cluster.stop();
  }
}
