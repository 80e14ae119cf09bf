/**
 * The koa-session store and middleware in plain Koa on real Redis.
 */
import { featureCounters } from '../../src/counters.js';
import Koa from 'koa';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { RedisSessionStore, createRedisSession, type RedisSessionOptions } from '../../src/session/index.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger, waitFor } from '../helpers/logger.js';

const redis = inject('redis');
const open: RedisRegistry[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

async function registryFor(connection: unknown, requestTimeout = 500): Promise<RedisRegistry> {
  const r = createRedisRegistry({ connections: { default: { connection: connection as never, requestTimeout } } }, { logger: captureLogger() });
  open.push(r);
  await r.waitUntilReady();
  return r;
}

/** A Koa app: GET /set?x=.. writes ctx.session.x, GET /get reads it, /regen regenerates, /logout destroys. */
function appWith(registry: RedisRegistry, options: RedisSessionOptions = {}) {
  const app = new Koa();
  app.keys = ['test-key-a', 'test-key-b'];
  const prefix = randomPrefix('sess');
  const logger = captureLogger();
  app.use(createRedisSession(app, { registry, prefix, logger, ...options }));
  app.use(async (ctx) => {
    const session = ctx.session!;
    if (ctx.path === '/set') session.x = ctx.query.x;
    else if (ctx.path === '/regen') await session.regenerate();
    else if (ctx.path === '/logout') ctx.session = null;
    ctx.body = { x: ctx.session?.x ?? null };
  });
  return { app, prefix, logger, agent: request.agent(app.callback()) };
}

const sidOf = (res: request.Response): string | undefined =>
  ([] as string[])
    .concat(res.headers['set-cookie'] ?? [])
    .map((c) => /^koa\.sess=([^;]+)/.exec(c)?.[1])
    .find((v) => v);

describe.each([
  ['standalone', () => redis.standalone.url],
  ['cluster', () => ({ nodes: redis.cluster.nodes })],
  ['sentinel', () => ({ sentinels: redis.sentinel.sentinels, name: redis.sentinel.name })],
])('on %s', (_kind, connection) => {
  it('stores, reads back, and expires after maxAge + 10 s', async () => {
    const registry = await registryFor(connection());
    const { agent, prefix } = appWith(registry, { maxAge: 60_000 });
    const set = await agent.get('/set?x=hello').expect(200);
    const sid = sidOf(set)!;
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);
    expect((await agent.get('/get').expect(200)).body).toEqual({ x: 'hello' });
    const client = registry.client('default');
    const pttl = await client.pttl(prefix + sid);
    expect(pttl).toBeGreaterThan(69_000);
    expect(pttl).toBeLessThanOrEqual(70_000);
    const stored = JSON.parse((await client.get(prefix + sid))!);
    expect(stored).toMatchObject({ x: 'hello', _maxAge: 60_000 });
    expect(JSON.stringify(stored)).not.toContain('test-key');
  });
});

describe('the koa-session contract', () => {
  let registry: RedisRegistry;
  beforeAll(async () => {
    registry = createRedisRegistry({ connections: { default: { connection: redis.standalone.url } } }, { logger: captureLogger() });
    await registry.waitUntilReady();
  });
  afterAll(async () => {
    await registry.close();
  });

  it("maxAge 'session': the cookie is a browser-session cookie, the key still expires after sessionTTL", async () => {
    const { agent, prefix } = appWith(registry, { maxAge: 'session', sessionTTL: 120_000 });
    const res = await agent.get('/set?x=1').expect(200);
    const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('koa.sess='))!;
    expect(cookie).not.toMatch(/expires=/i);
    const pttl = await registry.client('default').pttl(prefix + sidOf(res)!);
    expect(pttl).toBeGreaterThan(115_000);
    expect(pttl).toBeLessThanOrEqual(120_000);
  });

  it('the store turns each maxAge form into a sane expiry', () => {
    const store = new RedisSessionStore({ registry, sessionTTL: 5000, maxTTL: 50_000 });
    expect(store.ttlFor(70_000)).toBe(50_000); // bounded by maxTTL
    expect(store.ttlFor(20_000)).toBe(20_000);
    expect(store.ttlFor('session')).toBe(5000);
    expect(store.ttlFor(undefined)).toBe(5000);
    expect(store.ttlFor(0)).toBe(5000);
    expect(() => new RedisSessionStore({ sessionTTL: -1 })).toThrow(/sessionTTL: got -1; expected an integer number of milliseconds/);
  });

  it('without maxAge koa-session uses one day (+10 s)', async () => {
    const { agent, prefix } = appWith(registry, { maxAge: undefined });
    const res = await agent.get('/set?x=1').expect(200);
    const pttl = await registry.client('default').pttl(prefix + sidOf(res)!);
    expect(pttl).toBeGreaterThan(86_400_000);
    expect(pttl).toBeLessThanOrEqual(86_410_000);
  });

  it('rolling refreshes the TTL on every request; without it an unchanged session is not written', async () => {
    const client = registry.client('default');
    const rolling = appWith(registry, { maxAge: 60_000, rolling: true });
    const sid = sidOf(await rolling.agent.get('/set?x=1'))!;
    await client.pexpire(rolling.prefix + sid, 1000);
    await rolling.agent.get('/get').expect(200);
    expect(await client.pttl(rolling.prefix + sid)).toBeGreaterThan(60_000);

    const still = appWith(registry, { maxAge: 60_000 });
    const sid2 = sidOf(await still.agent.get('/set?x=1'))!;
    await client.pexpire(still.prefix + sid2, 30_000);
    await still.agent.get('/get').expect(200);
    expect(await client.pttl(still.prefix + sid2)).toBeLessThanOrEqual(30_000);
  });

  it('renew rewrites a session that is past half its life', async () => {
    const client = registry.client('default');
    const { agent, prefix } = appWith(registry, { maxAge: 60_000, renew: true });
    const sid = sidOf(await agent.get('/set?x=1'))!;
    // age the stored session: its _expire is 10 s away (< maxAge / 2)
    const data = JSON.parse((await client.get(prefix + sid))!);
    data._expire = Date.now() + 10_000;
    await client.set(prefix + sid, JSON.stringify(data), 'PX', 10_000);
    await agent.get('/get').expect(200);
    expect(await client.pttl(prefix + sid)).toBeGreaterThan(60_000);
  });

  it('regenerate: a new id carrying the data, the old one destroyed; destroy removes the key', async () => {
    const client = registry.client('default');
    const { agent, prefix } = appWith(registry, { maxAge: 60_000 });
    const counted = featureCounters(registry).sessions!;
    const before = sidOf(await agent.get('/set?x=keep'))!;
    const after = sidOf(await agent.get('/regen').expect(200))!;
    expect(after).not.toBe(before);
    expect(await client.exists(prefix + before)).toBe(0);
    expect(await client.exists(prefix + after)).toBe(1);
    expect((await agent.get('/get')).body).toEqual({ x: 'keep' });
    await agent.get('/set?x=2');
    await agent.get('/logout').expect(200);
    expect(await client.exists(prefix + after)).toBe(0);
    // the registry's counters saw it: 3 writes (set, regen, set), 2 destroys (regen, logout), reads of existing sessions
    const now = featureCounters(registry).sessions!;
    expect(now.saved - counted.saved).toBe(3);
    expect(now.destroyed - counted.destroyed).toBe(2);
    expect(now.loaded - counted.loaded).toBe(4);
    expect(now.failures - counted.failures).toBe(0);
  });

  it('corrupt stored data is no session (logged), not a 500 loop', async () => {
    const client = registry.client('default');
    const { agent, prefix, logger } = appWith(registry, { maxAge: 60_000 });
    const sid = sidOf(await agent.get('/set?x=1'))!;
    await client.set(prefix + sid, 'not json{', 'PX', 10_000);
    const counted = featureCounters(registry).sessions!;
    expect((await agent.get('/get').expect(200)).body).toEqual({ x: null });
    expect(featureCounters(registry).sessions!.corrupt - counted.corrupt).toBe(1);
    expect((await agent.get('/get').expect(200)).body).toEqual({ x: null });
    expect(logger.of('warn').join('\n')).toMatch(/not a JSON object/);
  });

  it('refuses a store option and bad option values at creation', () => {
    const app = new Koa();
    expect(() => createRedisSession(app, { store: {} } as never)).toThrow(/do not pass `store`/);
    expect(() => createRedisSession(app, { registry, prefix: '' })).toThrow(/prefix/);
  });
});

describe('Redis outage: fail closed', () => {
  let server: ServerHandle;
  beforeAll(async () => {
    // persistence on, so that the sessions survive a real restart
    server = await startStandalone({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('503 within the bound while down (one warning), sessions intact after restart', async () => {
    const registry = await registryFor(server.url, 300);
    const { agent, logger } = appWith(registry, { maxAge: 60_000 });
    await agent.get('/set?x=survives').expect(200);
    await server.kill('SIGKILL');
    const counted = featureCounters(registry).sessions!;
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const res = await agent.get('/get');
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ status: 503, name: 'ServiceUnavailableError' });
      expect(performance.now() - started).toBeLessThan(1500);
    }
    // a write during the outage is refused too: nothing silently overwritten
    expect((await agent.get('/set?x=lost')).status).toBe(503);
    expect(featureCounters(registry).sessions!.failures - counted.failures).toBe(4);
    expect(logger.of('warn').filter((l) => l.includes('session store (connection "default"): Redis failed'))).toHaveLength(1);
    await server.restart();
    await waitFor(() => registry.get('default').isReady, 10_000, 'reconnect');
    expect((await agent.get('/get').expect(200)).body).toEqual({ x: 'survives' });
    expect(logger.of('info').join('\n')).toMatch(/session store \(connection "default"\): Redis answers again after \d+ ms/);
  });

  it('one GET per read, and a SET only when the session changed', async () => {
    const registry = await registryFor(server.url, 1000);
    const { agent } = appWith(registry, { maxAge: 60_000 });
    await agent.get('/set?x=1').expect(200);
    const client = registry.client('default');
    const calls = async () => {
      const info = await client.info('commandstats');
      const count = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
      return { get: count('get'), set: count('set') };
    };
    await client.config('RESETSTAT');
    await agent.get('/get').expect(200);
    await agent.get('/get').expect(200);
    // (the INFO call itself is not a GET/SET)
    expect(await calls()).toEqual({ get: 2, set: 0 });
    await client.config('RESETSTAT');
    await agent.get('/set?x=2').expect(200);
    expect(await calls()).toEqual({ get: 1, set: 1 });
  });

  it('a hung server (SIGSTOP) answers 503 after the request bound', async () => {
    const registry = await registryFor(server.url, 300);
    const { agent } = appWith(registry, { maxAge: 60_000 });
    await agent.get('/set?x=1').expect(200);
    server.pause();
    try {
      const started = performance.now();
      expect((await agent.get('/get')).status).toBe(503);
      expect(performance.now() - started).toBeLessThan(1500);
    } finally {
      server.resume();
    }
  });
});
