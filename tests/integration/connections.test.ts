import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import { RedisNotReadyError, RedisTimeoutError, RedisUnavailableError, UnknownConnectionError, createRedisRegistry } from '../../src/index.js';
import { freePort, randomPrefix, serverUnderTest } from '../harness/servers.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';
import { captureLogger } from '../helpers/logger.js';

const redis = inject('redis');
const make = registriesClosedAfterEach();

describe('connections on every topology', () => {
  it('standalone by URL string and by options object', async () => {
    const { host, port, url } = redis.standalone;
    const reg = make({ connections: { byUrl: { connection: `${url}/3` }, byObj: { connection: { host, port, db: 4 } } } }, { logger: captureLogger() });
    const report = await reg.waitUntilReady();
    expect(report).toEqual({ byUrl: 'ready', byObj: 'ready' });
    const key = `${randomPrefix('conn')}k`;
    await reg.client('byUrl').set(key, 'in-db-3', 'PX', 10_000);
    expect(await reg.client('byUrl').get(key)).toBe('in-db-3');
    // a different db: the same key is absent there
    expect(await reg.client('byObj').get(key)).toBeNull();
    expect(reg.get('byObj').topology).toBe('standalone');
  });

  it('cluster from nodes: writes across slots, status per node', async () => {
    const reg = make({ connections: { cl: { connection: { nodes: redis.cluster.nodes } } } }, { logger: captureLogger() });
    await reg.waitUntilReady();
    const client = reg.client('cl') as Cluster;
    const prefix = randomPrefix('cl');
    await Promise.all(Array.from({ length: 50 }, (_, i) => client.set(`${prefix}${i}`, String(i), 'PX', 10_000)));
    const values = await Promise.all(Array.from({ length: 50 }, (_, i) => client.get(`${prefix}${i}`)));
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));

    const status = await reg.status();
    const cl = status.connections[0]!;
    expect(cl).toMatchObject({ name: 'cl', topology: 'cluster', ready: true, clusterState: 'ok' });
    expect(cl.nodes).toHaveLength(6);
    const masters = cl.nodes!.filter((n) => n.role === 'master');
    expect(masters).toHaveLength(3);
    for (const m of masters) expect(m).toMatchObject({ state: 'ready', server: { role: 'master', mode: 'cluster' } });
    // replicas: linked by the client ('ready') once it has routed to them, else the cluster's view ('connected')
    for (const r of cl.nodes!.filter((n) => n.role === 'replica')) expect(['ready', 'connected']).toContain(r.state);
    expect(new Set(cl.nodes!.map((n) => n.address))).toEqual(new Set(redis.cluster.nodes.map((n) => `${n.host}:${n.port}`)));
    expect(cl.pingMs).toBeGreaterThan(0);
  });

  it('sentinel from sentinels + name, with the failover detector on by default', async () => {
    const reg = make({ connections: { ha: { connection: { sentinels: redis.sentinel.sentinels, name: redis.sentinel.name } } } }, { logger: captureLogger() });
    await reg.waitUntilReady();
    const client = reg.client('ha') as Redis;
    expect(client.options.failoverDetector).toBe(true);
    const key = `${randomPrefix('se')}k`;
    await client.set(key, 'v', 'PX', 10_000);
    expect(await client.get(key)).toBe('v');
    const conn = (await reg.status()).connections[0]!;
    expect(conn).toMatchObject({ topology: 'sentinel', ready: true, endpoint: expect.stringMatching(/^sentinel mymaster@/) });
    expect(conn.server?.role).toBe('master');
    expect(conn.nodes?.[0]?.address).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('the user can still turn the failover detector off', async () => {
    const reg = make(
      { connections: { ha: { connection: { sentinels: redis.sentinel.sentinels, name: redis.sentinel.name, failoverDetector: false } } } },
      { logger: captureLogger() },
    );
    expect((reg.client('ha') as Redis).options.failoverDetector).toBe(false);
  });

  it('status reports INFO basics in milliseconds and bytes', async () => {
    const reg = make({ connections: { s: { connection: redis.standalone.url } } }, { logger: captureLogger() });
    await reg.waitUntilReady();
    const { ok, connections } = await reg.status();
    expect(ok).toBe(true);
    const server = connections[0]!.server!;
    // Valkey reports server_name:valkey and valkey_version (its redis_version is a compatibility value)
    const underTest = serverUnderTest();
    expect(server.product).toBe(underTest.product);
    expect(server.version).toBe(underTest.version);
    expect(server.role).toBe('master');
    expect(server.mode).toBe('standalone');
    expect(server.uptimeMs % 1000).toBe(0);
    expect(server.usedMemoryBytes).toBeGreaterThan(0);
    expect(server.connectedClients).toBeGreaterThanOrEqual(1);
  });
});

describe('names', () => {
  it('an unknown name lists the known ones; a disabled one says so', async () => {
    const reg = make(
      { connections: { cache: { connection: redis.standalone.url }, off: { connection: redis.standalone.url, enabled: false } } },
      { logger: captureLogger() },
    );
    expect(() => reg.get('sessions')).toThrow(UnknownConnectionError);
    expect(() => reg.get('sessions')).toThrow(/Unknown Redis connection "sessions".*"cache"/);
    expect(() => reg.get('off')).toThrow(/"off".*disabled \(enabled: false/);
    expect(reg.names()).toEqual(['cache']);
    expect(reg.connections).not.toHaveProperty('off');
    expect((await reg.status()).disabled).toEqual(['off']);
  });
});

describe('readiness', () => {
  it('resolves at once when the ready event already fired', async () => {
    const reg = make({ connections: { s: { connection: redis.standalone.url } } }, { logger: captureLogger() });
    await reg.waitUntilReady();
    const conn = reg.get('s');
    expect(conn.isReady).toBe(true);
    // A second wait must not hang for an event that will never come again.
    expect(await conn.waitUntilReady(60_000)).toBe('ready');
  });

  it('down at boot: warns once, then continues; a required connection stops boot', async () => {
    const port = await freePort();
    const logger = captureLogger();
    const reg = make({ connections: { gone: { connection: { host: '127.0.0.1', port }, readyTimeout: 600 } } }, { logger });
    expect(await reg.waitUntilReady()).toEqual({ gone: 'timeout' });
    const warns = logger.of('warn');
    // one line for the first error, one for "not ready after", however many reconnects happened
    expect(warns).toHaveLength(2);
    expect(warns[0]).toMatch(/connection "gone" \(redis:\/\/127\.0\.0\.1:\d+\/0\) is down: .*ECONNREFUSED/);
    expect(warns[1]).toMatch(/was not ready after 600 ms.*required: true/);

    const reg2 = make({ connections: { gone: { connection: { host: '127.0.0.1', port }, readyTimeout: 300, required: true } } }, { logger: captureLogger() });
    await expect(reg2.waitUntilReady()).rejects.toThrow(RedisNotReadyError);
    await expect(reg2.waitUntilReady()).rejects.toThrow(/required: true.*set required: false/);
  });
});

describe('request-path bounds', () => {
  it('fails at once when not ready instead of queueing', async () => {
    const port = await freePort();
    const reg = make({ connections: { gone: { connection: { host: '127.0.0.1', port }, requestTimeout: 5000 } } }, { logger: captureLogger() });
    const started = performance.now();
    await expect(reg.get('gone').run((client) => client.get('x'))).rejects.toBeInstanceOf(RedisUnavailableError);
    // no waiting in the offline queue: far below the 5 s bound
    expect(performance.now() - started).toBeLessThan(1000);
    // the raw client keeps ioredis semantics (it would queue): the bound applies to run() only
    expect((reg.client('gone') as Redis).options.enableOfflineQueue).toBe(true);
  });

  it('times out a slow command with RedisTimeoutError', async () => {
    const reg = make({ connections: { s: { connection: redis.standalone.url, requestTimeout: 100 } } }, { logger: captureLogger() });
    await reg.waitUntilReady();
    const key = `${randomPrefix('slow')}${randomUUID()}`;
    const err = await reg
      .get('s')
      .run((client) => (client as Redis).blpop(key, 1))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisTimeoutError);
    expect((err as Error).message).toMatch(/within 100 ms \(redis\.connections\.s\.requestTimeout\)/);
  });
});

describe('close', () => {
  it('quits every client, is idempotent, and leaves no socket', async () => {
    const reg = createRedisRegistry(
      { connections: { a: { connection: redis.standalone.url }, b: { connection: { nodes: redis.cluster.nodes } } } },
      { logger: captureLogger() },
    );
    await reg.waitUntilReady();
    await reg.close();
    await reg.close();
    expect(reg.get('a').state).toBe('end');
    expect(reg.get('b').state).toBe('end');
  });

  it('closes a connection that never became ready without hanging', async () => {
    const port = await freePort();
    const reg = createRedisRegistry({ connections: { gone: { connection: { host: '127.0.0.1', port } } } }, { logger: captureLogger() });
    await new Promise((r) => setTimeout(r, 200));
    await reg.close();
    expect(reg.get('gone').state).toBe('end');
  });
});

describe('debug logging', () => {
  it('settings.debug writes lifecycle lines to the host logger at info level, without secrets', async () => {
    const logger = captureLogger();
    const reg = make(
      { settings: { debug: true }, connections: { s: { connection: `redis://:Debug-Canary-99@127.0.0.1:${redis.standalone.port}` } } },
      { logger },
    );
    await reg.waitUntilReady().catch(() => undefined);
    await reg.close();
    const info = logger.of('info').join('\n');
    expect(info).toMatch(/\[redis\] connection "s" created \(standalone, redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\)/);
    expect(info).toMatch(/connection "s" closed/);
    expect(logger.all()).not.toContain('Debug-Canary-99');
  });

  it('without settings.debug nothing below warn reaches the host logger', async () => {
    const logger = captureLogger();
    const reg = make({ connections: { s: { connection: redis.standalone.url } } }, { logger });
    await reg.waitUntilReady();
    await reg.close();
    expect(logger.lines).toEqual([]);
  });
});
