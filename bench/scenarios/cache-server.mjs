// Server under test for the "cache" scenario: a plain Koa app with the response cache in front of
// two handlers that return the same JSON bytes, one at once and one after 5 ms (a database query).
// REDIS_SUITE_MODULE points at another build of the package (default: ../../dist/index.mjs).
import Koa from 'koa';

const mod = await import(process.env.REDIS_SUITE_MODULE ?? new URL('../../dist/index.mjs', import.meta.url).href);
const { createRedisRegistry, responseCache } = mod;
if (typeof responseCache !== 'function') throw new Error('this build does not export responseCache');

const registry = createRedisRegistry({ connections: { default: { connection: process.env.REDIS_URL } } });
await registry.waitUntilReady();

const payload = {
  data: Array.from({ length: 20 }, (_, i) => ({ id: i, documentId: `doc${i}`, title: `Article ${i}`, body: 'x'.repeat(60) })),
  meta: { pagination: { page: 1, pageSize: 25, pageCount: 1, total: 20 } },
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const app = new Koa();
app.use(responseCache({ registry, prefix: `bench:cache:${process.pid}:`, maxAge: 600_000, routes: ['/hit', '/slow-hit'] }));
app.use(async function route(ctx) {
  switch (ctx.path) {
    case '/handler':
    case '/hit':
      ctx.body = payload;
      return;
    case '/slow-handler':
    case '/slow-hit':
      await sleep(5);
      ctx.body = payload;
      return;
    default:
      ctx.status = 404;
  }
});
const server = app.listen(0, '127.0.0.1', async () => {
  // warm the entries, so every measured request on /hit and /slow-hit is a hit
  const base = `http://127.0.0.1:${server.address().port}`;
  for (const p of ['/hit', '/slow-hit']) await fetch(base + p);
  const check = await fetch(`${base}/hit`);
  if (check.headers.get('x-cache') !== 'HIT') throw new Error(`warm-up failed: X-Cache ${check.headers.get('x-cache')}`);
  console.log(`LISTENING ${server.address().port}`);
});
process.on('SIGTERM', async () => {
  server.close();
  await registry.close();
  process.exit(0);
});
