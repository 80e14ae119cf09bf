// Server under test for the "ratelimit" scenario: one Koa app, one route per variant. Every request
// comes from 127.0.0.1, so each limiter counts one hot key; `max` is out of reach (no 429s).
import Koa from 'koa';
import koa2RateLimit from 'koa2-ratelimit';
import { createRedisRegistry, rateLimit, RedisRateLimitStore } from '../../dist/index.mjs';

const { RateLimit, Stores } = koa2RateLimit;
const registry = createRedisRegistry({ connections: { default: { connection: process.env.REDIS_URL } } });
await registry.waitUntilReady();

const MAX = 1_000_000_000;
const body = 'x'.repeat(100);
const limiters = {
  '/baseline': null,
  '/redis': rateLimit({ registry, prefixKey: 'bench-redis', max: MAX, interval: { min: 1 } }),
  '/memory': RateLimit.middleware({ interval: { min: 1 }, max: MAX, prefixKey: 'bench-memory', store: new Stores.Memory() }),
  '/store': RateLimit.middleware({ interval: { min: 1 }, max: MAX, prefixKey: 'bench-store', store: new RedisRateLimitStore({ registry }) }),
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
  process.exit(0);
});
