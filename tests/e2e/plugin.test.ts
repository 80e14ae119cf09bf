/**
 * The packed plugin in a real Strapi 5 app (child process), against the harness' servers.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startStandalone, type ServerHandle } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { ensurePlaygroundInstalled, freePort, startApp, type AppHandle } from './app.js';

const redis = inject('redis');
const CANARY = 'E2e-Canary-Secret-4411';

async function getJson(url: string): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

beforeAll(async () => {
  await ensurePlaygroundInstalled({ quiet: true });
});

describe('Strapi boots with every topology', () => {
  let secured: ServerHandle;
  let app: AppHandle;

  beforeAll(async () => {
    secured = await startStandalone({ password: CANARY });
    app = await startApp({
      pluginConfig: {
        settings: { debug: true },
        connections: {
          default: { connection: redis.standalone.url },
          object: { connection: { host: redis.standalone.host, port: redis.standalone.port, db: 2 } },
          secured: { connection: `redis://:${CANARY}@127.0.0.1:${secured.port}/1` },
          cluster: { connection: { nodes: redis.cluster.nodes } },
          ha: { connection: { sentinels: redis.sentinel.sentinels, name: redis.sentinel.name } },
          off: { connection: 'redis://127.0.0.1:1', enabled: false },
        },
      },
    });
  });

  afterAll(async () => {
    if (app?.isRunning()) await app.stop();
    await secured?.stop();
  });

  it('serves content and strapi.redis.connections.<name>.client works for each', async () => {
    expect((await getJson(`${app.url}/api/articles`)).status).toBe(200);
    for (const name of ['default', 'object', 'secured', 'cluster', 'ha']) {
      const { status, body } = await getJson(`${app.url}/api/redis-demo/ping?connection=${name}`);
      expect({ name, status, ok: body?.ok }).toEqual({ name, status: 200, ok: true });
    }
  });

  it('the connections service reports status without secrets', async () => {
    const { status, body, text } = await getJson(`${app.url}/api/redis-demo/status`);
    expect(status).toBe(200);
    expect(body.ok).toBe(true);
    const byName = Object.fromEntries(body.connections.map((c: { name: string }) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(['cluster', 'default', 'ha', 'object', 'secured']);
    expect(byName.cluster).toMatchObject({ topology: 'cluster', ready: true, clusterState: 'ok' });
    expect(byName.ha).toMatchObject({ topology: 'sentinel', ready: true });
    expect(byName.secured).toMatchObject({ topology: 'standalone', ready: true, endpoint: expect.stringContaining(':***@') });
    expect(body.disabled).toEqual(['off']);
    expect(text).not.toContain(CANARY);
  });

  it('an unknown name gets an error listing the known ones', async () => {
    const { status, text } = await getJson(`${app.url}/api/redis-demo/ping?connection=nope`);
    expect(status).toBe(500);
    expect(text).toMatch(/Unknown Redis connection \\?"nope\\?"/);
  });

  it('SIGTERM exits cleanly with every connection closed, and no secret was ever logged', async () => {
    const exit = await app.stop('SIGTERM', 15_000);
    expect(exit).toMatchObject({ code: 0, killed: false });
    const logs = app.logs();
    expect(logs).toMatch(/connection "cluster" closed/);
    expect(logs).toMatch(/connection "ha" closed/);
    expect(logs).toMatch(/connection "secured" closed/);
    expect(logs).not.toMatch(/Unhandled error event/);
    expect(logs).not.toContain(CANARY);
  });
});

describe('Redis down at boot, then killed and restarted while the app runs', () => {
  let server: ServerHandle;
  let app: AppHandle;

  beforeAll(async () => {
    server = await startStandalone();
    await server.kill('SIGKILL');
    app = await startApp({
      pluginConfig: { connections: { default: { connection: { host: '127.0.0.1', port: server.port }, readyTimeout: 1000, requestTimeout: 500 } } },
    });
  });

  afterAll(async () => {
    if (app?.isRunning()) await app.stop();
    await server?.stop();
  });

  it('boots without it after the bound, warning once', async () => {
    expect((await getJson(`${app.url}/api/articles`)).status).toBe(200);
    const logs = app.logs();
    expect(logs).toMatch(/connection "default" \(redis:\/\/127\.0\.0\.1:\d+\/0\) is down: .*ECONNREFUSED/);
    expect(logs).toMatch(/was not ready after 1000 ms/);
    expect(logs.match(/is down:/g)).toHaveLength(1);
  });

  it('recovers when Redis comes back, fails fast while it is gone, and never floods the log', async () => {
    await server.restart();
    await waitFor(async () => (await getJson(`${app.url}/api/redis-demo/ping?connection=default`)).status === 200, 20_000, 'ping after restart');
    expect(app.logs()).toMatch(/is ready again after \d+ ms/);

    await server.kill('SIGKILL');
    await waitFor(
      async () => (await getJson(`${app.url}/api/redis-demo/ping?connection=default&mode=bounded`)).status === 500,
      10_000,
      'bounded ping failing at once',
    );
    // let ioredis try to reconnect several times
    await new Promise((r) => setTimeout(r, 1500));
    await server.restart();
    await waitFor(async () => (await getJson(`${app.url}/api/redis-demo/ping?connection=default`)).status === 200, 20_000, 'ping after 2nd restart');

    const logs = app.logs();
    expect(logs.match(/is down:/g)).toHaveLength(2); // one line per outage
    expect(logs.match(/is ready again/g)).toHaveLength(2);
    expect(logs).not.toMatch(/Unhandled error event/);
    const exit = await app.stop('SIGTERM', 15_000);
    expect(exit.code).toBe(0);
  });
});

describe('a required connection that is down stops boot', () => {
  it('exits non-zero with RedisNotReadyError', async () => {
    const port = await freePort();
    const app = await startApp({
      pluginConfig: { connections: { default: { connection: { host: '127.0.0.1', port }, readyTimeout: 500, required: true } } },
      expectBootFailure: true,
    });
    const exit = await app.exited;
    expect(exit.code).not.toBe(0);
    expect(app.logs()).toMatch(/Redis connection "default" was not ready after 500 ms/);
  });
});

describe('other code sees the connections from register() on', () => {
  it("the app's register() (after every plugin's) already has strapi.redis.connections", async () => {
    const app = await startApp({ pluginConfig: { connections: { default: { connection: redis.standalone.url } } } });
    try {
      const { body } = await getJson(`${app.url}/api/redis-demo/register-view`);
      expect(body.names).toEqual(['default']);
      // register() waits (bounded) for readiness, so the client is usable right there
      expect(body.clientStatus).toEqual({ default: 'ready' });
    } finally {
      await app.stop();
    }
  });
});
