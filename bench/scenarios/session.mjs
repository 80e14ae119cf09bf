// Scenario "session": per-request cost of a session read, and of a read + write, with the suite's
// Redis store against koa-session's cookie store, on the same Koa handler.
import { fileURLToPath } from 'node:url';
import { compare, startServer } from '../lib/runner.mjs';

export const title = 'Sessions: Redis store vs koa-session cookie store';
export const target = 'Redis read >= 0.5x of the cookie store (one GET per read, one SET per changed request)';

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
    const rows = await compare(
      base,
      [
        { name: 'cookie-read', path: '/cookie/read', headers: cookie, what: 'koa-session cookie store, session read' },
        { name: 'redis-read', path: '/redis/read', headers: redis, what: 'Redis store, session read (one GET)', baseline: 'cookie-read' },
        { name: 'cookie-write', path: '/cookie/write', headers: cookie, what: 'cookie store, session changed' },
        { name: 'redis-write', path: '/redis/write', headers: redis, what: 'Redis store, session changed (GET + SET PX)', baseline: 'cookie-write' },
      ],
      opts,
    );
    return { rows, pass: rows.find((r) => r.name === 'redis-read').ratio >= 0.5 };
  } finally {
    await server.stop();
  }
}
