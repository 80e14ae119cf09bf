// Server under test for the "ratelimit" scenario: one Koa app, one route per variant. Every request
// comes from 127.0.0.1, so each limiter counts one hot key; `max` is out of reach (no 429s).
import Koa from 'koa';
import koa2RateLimit from 'koa2-ratelimit';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { createRedisRegistry, rateLimit, RedisRateLimitStore } from '../../dist/index.mjs';

const { RateLimit, Stores } = koa2RateLimit;
const registry = createRedisRegistry({
  connections: {
    default: { connection: process.env.REDIS_URL },
    // the same server, with ioredis' auto-pipelining: commands issued in one tick share a write
    pipelined: { connection: { url: process.env.REDIS_URL, enableAutoPipelining: true } },
  },
});
await registry.waitUntilReady();

// peers, on the same server: rate-limiter-flexible on its own ioredis client, and koa2-ratelimit's
// RedisStore on node-redis 4 (the client it requires)
const flexibleClient = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false });
await new Promise((r) => flexibleClient.once('ready', r));
const flexible = new RateLimiterRedis({ storeClient: flexibleClient, keyPrefix: 'bench-flexible', points: 1_000_000_000, duration: 60 });
const flexibleMiddleware = async (ctx, next) => {
  try {
    await flexible.consume(ctx.ip);
  } catch {
    ctx.status = 429;
    return;
  }
  await next();
};
const koa2RedisStore = new Stores.Redis({ url: process.env.REDIS_URL });

const MAX = 1_000_000_000;
// every request on its own key: nothing to coalesce, one script call per request
let seq = 0;
const distinctKey = () => String(seq++ % 100_000);
const body = 'x'.repeat(100);
const limiters = {
  '/baseline': null,
  '/redis': rateLimit({ registry, prefixKey: 'bench-redis', max: MAX, interval: { min: 1 } }),
  '/redis-distinct': rateLimit({ registry, prefixKey: 'bench-distinct', max: MAX, interval: { min: 1 }, keyGenerator: distinctKey }),
  '/redis-single': rateLimit({ registry, prefixKey: 'bench-single', max: MAX, interval: { min: 1 }, coalesce: false }),
  '/memory': RateLimit.middleware({ interval: { min: 1 }, max: MAX, prefixKey: 'bench-memory', store: new Stores.Memory() }),
  '/store': RateLimit.middleware({ interval: { min: 1 }, max: MAX, prefixKey: 'bench-store', store: new RedisRateLimitStore({ registry }) }),
  '/redis-pipelined': rateLimit({ registry, connection: 'pipelined', prefixKey: 'bench-pipelined', max: MAX, interval: { min: 1 } }),
  '/flexible': flexibleMiddleware,
  '/koa2-redis': RateLimit.middleware({ interval: { min: 1 }, max: MAX, prefixKey: 'bench-koa2redis', store: koa2RedisStore }),
};

const app = new Koa();
app.use(async function route(ctx) {
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
  process.exit(0);
});
