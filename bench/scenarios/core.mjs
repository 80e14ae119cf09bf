// Scenario "core": the cost of the bounded request-path wrapper `connection.run()` against the raw
// ioredis client on the same GET, and both against a handler that does not touch Redis.
import { fileURLToPath } from 'node:url';
import { compare, startServer } from '../lib/runner.mjs';

export const title = 'Core: bounded run() vs the raw ioredis client';
export const target = '`run` / `raw` >= 0.95 (the bound costs under 5% of requests/s)';

export async function measure({ redisUrl, opts }) {
  const server = await startServer(fileURLToPath(new URL('./core-server.mjs', import.meta.url)), { REDIS_URL: redisUrl });
  try {
    const rows = await compare(
      `http://127.0.0.1:${server.port}`,
      [
        { name: 'baseline', path: '/baseline', what: 'Koa handler, no Redis' },
        { name: 'raw', path: '/raw', what: 'GET through `client.get()`', baseline: 'baseline' },
        { name: 'run', path: '/run', what: 'GET through `connection.run()` (not-ready check + timeout)', baseline: 'raw' },
      ],
      opts,
    );
    const run = rows.find((r) => r.name === 'run');
    return { rows, pass: run.ratio >= 0.95 };
  } finally {
    await server.stop();
  }
}
