// Server under test for the "session" scenario: the same Koa handler behind koa-session's cookie
// store (/cookie/...) and behind the suite's Redis store (/redis/...).
import Koa from 'koa';
import { createSession } from 'koa-session';
import { createRedisRegistry, createRedisSession } from '../../dist/index.mjs';

const registry = createRedisRegistry({ connections: { default: { connection: process.env.REDIS_URL } } });
await registry.waitUntilReady();

const app = new Koa();
app.keys = ['bench-key-a', 'bench-key-b'];
const cookieSession = createSession({ key: 'c.sess', maxAge: 3_600_000 }, app);
const redisSession = createRedisSession(app, { registry, key: 'r.sess', maxAge: 3_600_000, prefix: 'bench:sess:' });

async function handler(ctx) {
  const action = ctx.path.split('/')[2];
  if (action === 'login') ctx.session.user = { id: 42, name: 'bench', roles: ['editor'] };
  else if (action === 'write') ctx.session.hits = (ctx.session.hits ?? 0) + 1;
  ctx.body = { user: ctx.session.user?.id ?? null };
}
app.use(async function route(ctx, next) {
  if (ctx.path.startsWith('/cookie/')) return cookieSession(ctx, () => handler(ctx));
  if (ctx.path.startsWith('/redis/')) return redisSession(ctx, () => handler(ctx));
  ctx.status = 404;
  return next();
});
const server = app.listen(0, '127.0.0.1', () => console.log(`LISTENING ${server.address().port}`));
process.on('SIGTERM', async () => {
  server.close();
  await registry.close();
  process.exit(0);
});
