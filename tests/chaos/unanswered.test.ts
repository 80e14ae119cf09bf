/**
 * Found by the chaos run (`npm run chaos -- --short`, standalone, seed 1): during a Redis SIGSTOP
 * every request that touched Redis waited out `requestTimeout` (250 ms) on each of its commands,
 * for the whole hang; 38 requests spent 251-291 ms beyond their handler. On one link replies come
 * in the order the commands were sent, so once a command is unanswered past its bound every later
 * one would wait behind it: they now fail at once (`RedisUnavailableError`, `unanswered`) until
 * that command is answered or the client reconnects. A Cluster client is left alone: its other
 * masters answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Koa from 'koa';
import request from 'supertest';
import { RedisTimeoutError, RedisUnavailableError } from '../../src/index.js';
import { createRedisSession } from '../../src/session/index.js';
import { randomPrefix, startCluster, startStandalone, type ClusterHandle, type ServerHandle } from '../harness/servers.js';
import { captureLogger, waitFor } from '../helpers/logger.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';

const make = registriesClosedAfterEach();
let server: ServerHandle;
let cluster: ClusterHandle;

beforeAll(async () => {
  [server, cluster] = await Promise.all([startStandalone(), startCluster()]);
}, 120_000);
afterAll(async () => {
  server?.resume();
  await Promise.all([server?.stop(), cluster?.stop()]);
});

const failure = async (p: Promise<unknown>): Promise<{ err: unknown; ms: number }> => {
  const t0 = performance.now();
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, ms: performance.now() - t0 };
};

describe('a command unanswered past its bound (a hung server)', () => {
  it('standalone: later commands fail at once until the server answers, then run again', async () => {
    const reg = make({ connections: { main: { connection: server.url, requestTimeout: 200 } } });
    await reg.waitUntilReady();
    const conn = reg.get('main');
    const key = `${randomPrefix('unanswered')}k`;
    expect(await conn.run((client) => client.set(key, 'v'))).toBe('OK');

    server.pause();
    try {
      const first = await failure(conn.run((client) => client.get(key)));
      expect(first.err).toBeInstanceOf(RedisTimeoutError);
      expect(first.ms).toBeGreaterThanOrEqual(190);

      // Every later bounded command, whatever its own bound, is refused before it is sent.
      for (const bound of [200, 5000]) {
        const later = await failure(conn.run((client) => client.get(key), bound));
        expect(later.err).toBeInstanceOf(RedisUnavailableError);
        const err = later.err as RedisUnavailableError;
        expect(err.inFlight).toBe(false);
        expect(err.unanswered?.timeoutMs).toBe(200);
        expect(err.unanswered!.forMs).toBeGreaterThanOrEqual(190);
        expect(err.message).toMatch(/has not answered a command sent \d+ ms ago \(its bound was 200 ms\); the command was not sent/);
        expect(later.ms).toBeLessThan(50);
      }
      // The link itself is up: a hung server looks ready to ioredis.
      expect(conn.isReady).toBe(true);
      // ...and the status says what is going on (the health API and the admin panel read it).
      const hung = await conn.status(100);
      expect(hung.ready).toBe(true);
      expect(hung.unanswered?.timeoutMs).toBe(200);
      expect(hung.unanswered!.forMs).toBeGreaterThanOrEqual(190);
      expect(hung.pingMs).toBeNull();
    } finally {
      server.resume();
    }
    // The timed-out GET's late reply ends it: the next command runs.
    await waitFor(async () => (await conn.run((client) => client.get(key)).catch(() => null)) === 'v', 3000, 'a command to run again after SIGCONT');
    expect((await conn.status()).unanswered).toBeUndefined();
  });

  it("standalone: a command with a shorter bound than requestTimeout (a cache's readTimeout) that misses it refuses nothing", async () => {
    const reg = make({ connections: { main: { connection: server.url, requestTimeout: 400 } } });
    await reg.waitUntilReady();
    const conn = reg.get('main');
    server.pause();
    let resumed = false;
    try {
      const short = await failure(conn.run((client) => client.ping(), 50));
      expect(short.err).toBeInstanceOf(RedisTimeoutError);
      // Sent, and answered once the server is back within its own bound.
      const later = conn.run((client) => client.ping());
      setTimeout(() => {
        server.resume();
        resumed = true;
      }, 100);
      expect(await later).toBe('PONG');
    } finally {
      if (!resumed) server.resume();
    }
  });

  it('standalone: a new link ends it too (the hung server killed and restarted)', async () => {
    const reg = make({ connections: { main: { connection: server.url, requestTimeout: 150 } } });
    await reg.waitUntilReady();
    const conn = reg.get('main');
    server.pause();
    try {
      const first = await failure(conn.run((client) => client.ping()));
      expect(first.err).toBeInstanceOf(RedisTimeoutError);
      expect((await failure(conn.run((client) => client.ping()))).err).toBeInstanceOf(RedisUnavailableError);
    } catch (err) {
      server.resume();
      throw err;
    }
    await server.restart(); // SIGKILLs the stopped process: the link closes, ioredis reconnects
    await reg.waitUntilReady();
    expect(await conn.run((client) => client.ping())).toBe('PONG');
  });

  it('Cluster: a hung master costs its own slots their bound; keys on the other masters still answer', async () => {
    const reg = make({ connections: { cl: { connection: { nodes: cluster.nodes }, requestTimeout: 200 } } });
    await reg.waitUntilReady();
    const conn = reg.get('cl');
    const prefix = randomPrefix('unanswered-cl');
    // Two keys on two different masters.
    const keys: string[] = [];
    const owners: ServerHandle[] = [];
    for (let i = 0; keys.length < 2 && i < 200; i++) {
      const k = `${prefix}${i}`;
      const owner = await cluster.masterFor(k);
      if (!owners.includes(owner)) {
        keys.push(k);
        owners.push(owner);
      }
    }
    const [hungKey, liveKey] = keys as [string, string];
    await conn.run((client) => client.set(hungKey, 'h'));
    await conn.run((client) => client.set(liveKey, 'l'));
    const hung = owners[0]!;
    hung.pause();
    try {
      expect((await failure(conn.run((client) => client.get(hungKey)))).err).toBeInstanceOf(RedisTimeoutError);
      // Not refused: the other master has its own link.
      expect(await conn.run((client) => client.get(liveKey))).toBe('l');
      // The hung master's slots wait their bound again (no shortcut on a Cluster).
      expect((await failure(conn.run((client) => client.get(hungKey)))).err).toBeInstanceOf(RedisTimeoutError);
    } finally {
      hung.resume();
    }
  });

  it('a session in plain Koa: during a hang one request waits the bound, the next ones are answered 503 at once', async () => {
    const reg = make({ connections: { default: { connection: server.url, requestTimeout: 200 } } });
    await reg.waitUntilReady();
    const app = new Koa();
    app.keys = ['unanswered-test-key'];
    app.use(createRedisSession(app, { registry: reg, prefix: `${randomPrefix('sess')}:`, logger: captureLogger() }));
    app.use((ctx) => {
      const s = ctx.session!;
      s.n = ((s.n as number | undefined) ?? 0) + 1;
      ctx.body = { n: s.n };
    });
    const agent = request.agent(app.callback());
    expect((await agent.get('/').expect(200)).body).toEqual({ n: 1 });
    server.pause();
    const times: number[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const res = await agent.get('/');
        times.push(performance.now() - t0);
        expect(res.status).toBe(503);
      }
    } finally {
      server.resume();
    }
    expect(times[0]).toBeGreaterThanOrEqual(190);
    for (const t of times.slice(1)) expect(t).toBeLessThan(100);
    // The session is intact once the server answers again.
    await waitFor(async () => (await agent.get('/')).status === 200, 3000, 'the session to be served again');
  });
});
