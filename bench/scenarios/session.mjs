// Scenario "session": per-request cost of a session read, and of a read + write, with the suite's
// Redis store against koa-session's cookie store, on the same Koa handler.
import { fileURLToPath } from 'node:url';
import { compare, startServer } from '../lib/runner.mjs';

export const title = 'Sessions: Redis store vs koa-session cookie store';
export const target =
  'Redis read >= 0.5x of the cookie store (one GET per read, one SET per changed request); issue #20: 10,000 distinct sessions within 0.9x of one session, read and write';

const MANY = 10_000;

async function loginCookie(base, kind) {
  const res = await fetch(`${base}/${kind}/login`);
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

export async function measure({ redisUrl, opts }) {
  const server = await startServer(fileURLToPath(new URL('./session-server.mjs', import.meta.url)), { REDIS_URL: redisUrl });
  const base = `http://127.0.0.1:${server.port}`;
  try {
    const cookie = { cookie: await loginCookie(base, 'cookie') };
    const redis = { cookie: await loginCookie(base, 'redis') };
    // issue #20: 10,000 sessions, each logged in once; the load sends them round robin
    const many = [];
    for (let i = 0; i < MANY; i += 100) many.push(...(await Promise.all(Array.from({ length: 100 }, () => loginCookie(base, 'redis')))));
    const rows = await compare(
      base,
      [
        { name: 'cookie-read', path: '/cookie/read', headers: cookie, what: 'koa-session cookie store, session read' },
        { name: 'redis-read', path: '/redis/read', headers: redis, what: 'Redis store, session read (one GET)', baseline: 'cookie-read' },
        { name: 'cookie-write', path: '/cookie/write', headers: cookie, what: 'cookie store, session changed' },
        { name: 'redis-write', path: '/redis/write', headers: redis, what: 'Redis store, session changed (GET + SET PX)', baseline: 'cookie-write' },
        {
          name: 'redis-read-many',
          path: '/redis/read',
          cookies: many,
          what: `Redis store, session read, ${MANY} sessions round robin`,
          baseline: 'redis-read',
        },
        {
          name: 'redis-write-many',
          path: '/redis/write',
          cookies: many,
          what: `Redis store, session changed, ${MANY} sessions round robin`,
          baseline: 'redis-write',
        },
      ],
      opts,
    );
    const ratio = (name) => rows.find((r) => r.name === name).ratio;
    return { rows, pass: ratio('redis-read') >= 0.5 && ratio('redis-read-many') >= 0.9 && ratio('redis-write-many') >= 0.9 };
  } finally {
    await server.stop();
  }
}
