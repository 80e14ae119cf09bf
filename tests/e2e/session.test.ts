/**
 * plugin::redis.session replacing strapi::session in two Strapi instances that share one Redis and
 * the same app keys: a session made on A is read on B, including users-permissions' OAuth state.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomPrefix } from '../harness/servers.js';
import { ensurePlaygroundInstalled, startApp, type AppHandle } from './app.js';

const redis = inject('redis');
let apps: AppHandle[] = [];
const prefix = randomPrefix('e2e-sess');

beforeAll(async () => {
  await ensurePlaygroundInstalled({ quiet: true });
  const middlewares = `module.exports = (defaults) => defaults.map((m) => m === 'strapi::session'
    ? { name: 'plugin::redis.session', config: { connection: 'default', prefix: ${JSON.stringify(prefix)}, secure: false } }
    : m);`;
  apps = await Promise.all(
    [0, 1].map(() =>
      startApp({
        pluginConfig: { connections: { default: { connection: redis.standalone.url } } },
        middlewares,
        env: { PLAYGROUND_GITHUB_PROVIDER: '1' },
      }),
    ),
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop()));
});

function cookiesOf(res: Response): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

describe('sessions across instances', () => {
  it('a value written on A is read on B with the same cookie', async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const set = await fetch(`${a.url}/api/redis-demo/session?x=from-a`);
    expect(await set.json()).toMatchObject({ x: 'from-a' });
    const cookie = cookiesOf(set);
    expect(cookie).toMatch(/koa\.sess=[0-9a-f-]{36}; koa\.sess\.sig=/);
    const read = await fetch(`${b.url}/api/redis-demo/session`, { headers: { cookie } });
    expect(await read.json()).toMatchObject({ x: 'from-a' });
  });

  it("users-permissions' OAuth connect state, saved on A, is there on B", async () => {
    const [a, b] = apps as [AppHandle, AppHandle];
    const start = await fetch(`${a.url}/api/connect/github`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const location = start.headers.get('location') ?? '';
    expect(location).toMatch(/^https:\/\/github\.com\/login\/oauth\/authorize\?/);
    const cookie = cookiesOf(start);
    const seen = (await (await fetch(`${b.url}/api/redis-demo/session`, { headers: { cookie } })).json()) as { grant: unknown };
    expect(seen.grant).toMatchObject({ provider: 'github' });
    const state = new URL(location).searchParams.get('state');
    expect(state, location).toBeTruthy();
    expect(JSON.stringify(seen.grant)).toContain(state!);
  });
});
