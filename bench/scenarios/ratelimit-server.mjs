// Server under test for the "ratelimit" scenario: one Koa app, one route per variant. Every request
// comes from 127.0.0.1, so the one-key rows count one hot key; the many-key rows give each request
// its own key (`-distinct`: a new key every request, as 100,000 clients would) or one of 1,000
// keys drawn with a Zipf spread (`-zipf`: a few busy clients and a long tail). `max` is out of
// reach (no 429s). With CLUSTER_NODES, the `-cluster` rows run the same limiter on a Cluster.
import Koa from 'koa';
import koa2RateLimit from 'koa2-ratelimit';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { createRedisRegistry, rateLimit, RedisRateLimitStore } from '../../dist/index.mjs';
import { profileRoute } from '../lib/cpuprofile.mjs';

const { RateLimit, Stores } = koa2RateLimit;
const registry = createRedisRegistry({
  connections: {
    default: { connection: process.env.REDIS_URL },
    // the same server, with ioredis' auto-pipelining: commands issued in one tick share a write
    pipelined: { connection: { url: process.env.REDIS_URL, enableAutoPipelining: true } },
    ...(process.env.CLUSTER_NODES ? { cluster: { connection: { nodes: JSON.parse(process.env.CLUSTER_NODES) } } } : {}),
  },
});
await registry.waitUntilReady();

// peers, on the same server: rate-limiter-flexible on its own ioredis client, and koa2-ratelimit's
// RedisStore on node-redis 4 (the client it requires)
const flexibleClient = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false });
await new Promise((r) => flexibleClient.once('ready', r));
const flexible = new RateLimiterRedis({ storeClient: flexibleClient, keyPrefix: 'bench-flexible', points: 1_000_000_000, duration: 60 });
const koa2RedisStore = new Stores.Redis({ url: process.env.REDIS_URL });
// the floor of any limiter that asks Redis per request: one GET per request on its own key, no
// script, no count, nothing but the round trip (auto-pipelined: a turn's GETs share one write)
const floorClient = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false, enableAutoPipelining: true });
await new Promise((r) => floorClient.once('ready', r));

const MAX = 1_000_000_000;
// every request on its own key: nothing to coalesce, one script call per request
let seq = 0;
const distinctKey = () => String(seq++ % 100_000);
// 1,000 keys, key k drawn with probability proportional to 1 / k (Zipf, s = 1), from a fixed seed
const ZIPF_KEYS = 1000;
const cumulative = [];
let total = 0;
for (let k = 1; k <= ZIPF_KEYS; k++) cumulative.push((total += 1 / k));
let state = 20;
const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const zipfKey = () => {
  const x = random() * total;
  let lo = 0;
  let hi = ZIPF_KEYS - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return `z${lo}`;
};
const flexibleOn = (keyOf) => async (ctx, next) => {
  try {
    await flexible.consume(keyOf(ctx));
  } catch {
    ctx.status = 429;
    return;
  }
  await next();
};
const body = 'x'.repeat(100);
const limiters = {
  '/baseline': null,
  '/redis': rateLimit({ registry, prefixKey: 'bench-redis', max: MAX, interval: { min: 1 } }),
  '/redis-distinct': rateLimit({ registry, prefixKey: 'bench-distinct', max: MAX, interval: { min: 1 }, keyGenerator: distinctKey }),
  '/redis-single': rateLimit({ registry, prefixKey: 'bench-single', max: MAX, interval: { min: 1 }, coalesce: false }),
  '/memory': RateLimit.middleware({ interval: { min: 1 }, max: MAX, prefixKey: 'bench-memory', store: new Stores.Memory() }),
  '/store': RateLimit.middleware({ interval: { min: 1 }, max: MAX, prefixKey: 'bench-store', store: new RedisRateLimitStore({ registry }) }),
  '/redis-pipelined': rateLimit({ registry, connection: 'pipelined', prefixKey: 'bench-pipelined', max: MAX, interval: { min: 1 } }),
  '/flexible': flexibleOn((ctx) => ctx.ip),
  '/koa2-redis': RateLimit.middleware({ interval: { min: 1 }, max: MAX, prefixKey: 'bench-koa2redis', store: koa2RedisStore }),
  '/redis-zipf': rateLimit({ registry, prefixKey: 'bench-zipf', max: MAX, interval: { min: 1 }, keyGenerator: zipfKey }),
  '/flexible-distinct': flexibleOn(distinctKey),
  '/floor-distinct': async (ctx, next) => {
    await floorClient.get(`bench-floor:${distinctKey()}`);
    await next();
  },
  '/flexible-zipf': flexibleOn(zipfKey),
  '/koa2-redis-distinct': RateLimit.middleware({ interval: { min: 1 }, max: MAX, prefixKey: 'bench-koa2d', store: koa2RedisStore, keyGenerator: distinctKey }),
  '/koa2-redis-zipf': RateLimit.middleware({ interval: { min: 1 }, max: MAX, prefixKey: 'bench-koa2z', store: koa2RedisStore, keyGenerator: zipfKey }),
  ...(process.env.CLUSTER_NODES
    ? {
        '/redis-cluster': rateLimit({ registry, connection: 'cluster', prefixKey: 'bench-c', max: MAX, interval: { min: 1 } }),
        '/redis-distinct-cluster': rateLimit({
          registry,
          connection: 'cluster',
          prefixKey: 'bench-cd',
          max: MAX,
          interval: { min: 1 },
          keyGenerator: distinctKey,
        }),
        '/redis-zipf-cluster': rateLimit({ registry, connection: 'cluster', prefixKey: 'bench-cz', max: MAX, interval: { min: 1 }, keyGenerator: zipfKey }),
      }
    : {}),
};

const app = new Koa();
app.use(async function route(ctx) {
  if (await profileRoute(ctx.path, ctx.res)) {
    ctx.respond = false;
    return;
  }
  if (!Object.prototype.hasOwnProperty.call(limiters, ctx.path)) {
    ctx.status = 404;
    return;
  }
  const handler = async () => {
    ctx.body = body;
  };
  const limiter = limiters[ctx.path];
  if (limiter) await limiter(ctx, handler);
  else await handler();
});
const server = app.listen(0, '127.0.0.1', () => console.log(`LISTENING ${server.address().port}`));
process.on('SIGTERM', async () => {
  server.close();
  await registry.close();
  flexibleClient.disconnect();
  floorClient.disconnect();
  process.exit(0);
});
