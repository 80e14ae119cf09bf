// Scenario "cache": a response-cache hit (one GET of a stored response) against the handler that
// produces the same bytes without Redis, and against a handler that takes 5 ms (a database query).
import { fileURLToPath } from 'node:url';
import { compare, startServer } from '../lib/runner.mjs';

export const title = 'Response cache: a hit vs the handler it replaces';
export const target = '`hit` >= 0.5x of `handler` (a hit costs one Redis GET) and `slow-hit` >= 2x of `slow-handler`';

export async function measure({ redisUrl, opts }) {
  const server = await startServer(fileURLToPath(new URL('./cache-server.mjs', import.meta.url)), { REDIS_URL: redisUrl });
  try {
    const rows = await compare(
      `http://127.0.0.1:${server.port}`,
      [
        { name: 'handler', path: '/handler', what: 'Koa handler returning 2.3 KB of JSON, no cache' },
        {
          name: 'hit',
          path: '/hit',
          what: 'the same route behind the cache, warmed (default readTimeout 50 ms: a read slower than that under load is a miss)',
          baseline: 'handler',
        },
        { name: 'slow-handler', path: '/slow-handler', what: 'the same bytes after 5 ms (a database query), no cache' },
        { name: 'slow-hit', path: '/slow-hit', what: 'that route behind the cache, warmed', baseline: 'slow-handler' },
      ],
      opts,
    );
    const ratio = (name) => rows.find((r) => r.name === name).ratio;
    return { rows, pass: ratio('hit') >= 0.5 && ratio('slow-hit') >= 2 };
  } finally {
    await server.stop();
  }
}
