/**
 * Found by the 30-minute chaos run (RELIABILITY.md, finding 13): after a Redis restart, instances
 * were ready seconds after the server. A client whose link is made while the server still loads its
 * data gets `loading:1` from its ready check and, with ioredis' defaults, looks again only after the
 * server's `loading_eta_seconds` (1 s when the estimate is 0) however soon the load ends. The suite
 * now looks again every 100 ms (`maxLoadingRetryTime`) unless the connection's options say
 * otherwise. The server here loads slowly on purpose: Redis' `key-load-delay` (microseconds per
 * key) and events served every KiB of the load, so it answers `LOADING` for about 400 ms.
 */
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_DEFAULTS } from '../../src/core/client.js';
import { respPipeline, startStandalone, RespError, type ServerHandle } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';

const KEYS = 400;
const KEY_LOAD_DELAY_US = 1000;

const make = registriesClosedAfterEach();
let server: ServerHandle;
beforeAll(async () => {
  server = await startStandalone({
    args: ['--appendonly', 'yes', '--key-load-delay', String(KEY_LOAD_DELAY_US), '--loading-process-events-interval-bytes', '1024'],
  });
  const target = { host: server.host, port: server.port };
  const value = 'v'.repeat(100);
  await respPipeline(
    target,
    Array.from({ length: KEYS }, (_, i) => ['SET', `loading-ready:${i}`, value]),
  );
  // The keys go into the AOF's RDB base, which is what key-load-delay slows down.
  await respPipeline(target, [['BGREWRITEAOF']]);
  await waitFor(
    async () => {
      const [info] = await respPipeline(target, [['INFO', 'persistence']]);
      return typeof info === 'string' && /aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info);
    },
    10_000,
    'the AOF rewrite to finish',
  );
});
afterAll(async () => {
  await server?.stop();
});

/** Restarts the server, connects `connect()` while it loads, and measures how long after the load the client was ready. */
async function readyAfterLoad(connection: string | object): Promise<{ connectedAt: number; loadedAt: number; readyAt: number }> {
  await server.restart(); // returns once the server answers INFO, which it does while loading
  const client = make({ connections: { main: { connection: connection as never } } }).client('main') as Redis;
  let connectedAt = 0;
  let readyAt = 0;
  client.once('connect', () => (connectedAt = Date.now()));
  client.once('ready', () => (readyAt = Date.now()));
  const target = { host: server.host, port: server.port };
  let loadedAt = 0;
  await waitFor(
    async () => {
      const [pong] = await respPipeline(target, [['PING']], 1000);
      if (pong instanceof RespError && /LOADING/.test(pong.message)) return false;
      loadedAt = Date.now();
      return true;
    },
    10_000,
    'the server to finish loading',
  );
  await waitFor(() => readyAt > 0, 15_000, 'the client to be ready');
  return { connectedAt, loadedAt, readyAt };
}

describe('a client that connects while the server loads its data', () => {
  it('is ready within about 100 ms of the load ending, not after the 1 s ioredis waits by default', async () => {
    const t = await readyAfterLoad(server.url);
    // linked while the server still loaded: its ready check got loading:1, the case under test
    expect(t.connectedAt, 'the client connected while the server was still loading').toBeGreaterThan(0);
    expect(t.connectedAt, 'the client connected while the server was still loading').toBeLessThan(t.loadedAt);
    expect(t.readyAt - t.loadedAt, JSON.stringify(t)).toBeLessThan(300);
  });

  it('the same with host/port options', async () => {
    const t = await readyAfterLoad({ host: server.host, port: server.port });
    expect(t.connectedAt).toBeGreaterThan(0);
    expect(t.connectedAt).toBeLessThan(t.loadedAt);
    expect(t.readyAt - t.loadedAt, JSON.stringify(t)).toBeLessThan(300);
  });

  it("the connection's own maxLoadingRetryTime wins", async () => {
    const reg = make({ connections: { main: { connection: { host: server.host, port: server.port, maxLoadingRetryTime: 10_000 } } } });
    const client = reg.client('main') as Redis;
    expect(client.options.maxLoadingRetryTime).toBe(10_000);
    const url = make({ connections: { main: { connection: server.url } } }).client('main') as Redis;
    expect(url.options.maxLoadingRetryTime).toBe(CLIENT_DEFAULTS.maxLoadingRetryTime);
  });

  it("a Cluster's node clients get the same default, and a Sentinel client too", () => {
    const reg = make(
      {
        connections: {
          cluster: { connection: { nodes: [{ host: server.host, port: server.port }], options: { lazyConnect: true } } },
          clusterOwn: {
            connection: { nodes: [{ host: server.host, port: server.port }], options: { lazyConnect: true, redisOptions: { maxLoadingRetryTime: 50 } } },
          },
          sentinel: { connection: { sentinels: [{ host: server.host, port: server.port }], name: 'mymaster', lazyConnect: true } },
        },
      },
      undefined,
    );
    const redisOptions = (name: string) => (reg.client(name) as Cluster).options.redisOptions as { maxLoadingRetryTime?: number };
    expect(redisOptions('cluster').maxLoadingRetryTime).toBe(CLIENT_DEFAULTS.maxLoadingRetryTime);
    expect(redisOptions('clusterOwn').maxLoadingRetryTime).toBe(50);
    expect((reg.client('sentinel') as Redis).options.maxLoadingRetryTime).toBe(CLIENT_DEFAULTS.maxLoadingRetryTime);
  });
});
