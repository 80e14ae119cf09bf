// Server under test for the "core" scenario: a plain Koa app on the suite's registry.
import Koa from 'koa';
import { createRedisRegistry } from '../../dist/index.mjs';

const registry = createRedisRegistry({ connections: { default: { connection: process.env.REDIS_URL } } });
await registry.waitUntilReady();
const conn = registry.get('default');
await conn.client.set('bench:key', 'x'.repeat(100));

const app = new Koa();
app.use(async function route(ctx) {
  switch (ctx.path) {
    case '/baseline':
      ctx.body = 'x'.repeat(100);
      return;
    case '/raw':
      ctx.body = await conn.client.get('bench:key');
      return;
    case '/run':
      ctx.body = await conn.run((c) => c.get('bench:key'));
      return;
    default:
      ctx.status = 404;
  }
});
const server = app.listen(0, '127.0.0.1', () => console.log(`LISTENING ${server.address().port}`));
process.on('SIGTERM', async () => {
  server.close();
  await registry.close();
  process.exit(0);
});
