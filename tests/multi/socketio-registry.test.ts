/**
 * createSocketIoAdapter outside Strapi (a registry from createRedisRegistry): two Socket.IO servers
 * in this process, each on its own registry, on the standalone server and on the Cluster; a
 * broadcast from one reaches a real socket.io-client of the other; close() closes both duplicated
 * connections.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cluster, Redis } from 'ioredis';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createRedisRegistry, createSocketIoAdapter, type RedisRegistry, type SocketIoAdapter } from '../../src/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger, waitFor } from '../helpers/logger.js';

const redis = inject('redis');
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(connection: object, key: string): Promise<{ io: Server; url: string; adapter: SocketIoAdapter; registry: RedisRegistry }> {
  const registry = createRedisRegistry({ connections: { main: { connection } } as never }, { logger: captureLogger() });
  await registry.waitUntilReady();
  const adapter = createSocketIoAdapter({ registry, connection: 'main', key });
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter, serveClient: false });
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', () => r()));
  cleanups.push(
    () => registry.close(),
    () => adapter.close(),
    () => io.close(),
  );
  return { io, url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`, adapter, registry };
}

async function client(url: string): Promise<{ socket: Socket; got: string[] }> {
  const socket = connect(url, { transports: ['websocket'], reconnection: false });
  cleanups.push(() => socket.disconnect());
  const got: string[] = [];
  socket.on('news', (m: string) => got.push(m));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, got };
}

describe.each([
  { topology: 'standalone', connection: () => redis.standalone.url, mode: 'classic' },
  { topology: 'Cluster', connection: () => ({ nodes: redis.cluster.nodes }), mode: 'sharded' },
] as const)('createSocketIoAdapter({ registry, connection }) on $topology', ({ connection, mode }) => {
  it(`builds the ${mode} adapter: a broadcast on one server reaches the other's client; close() ends both duplicates`, async () => {
    const key = randomPrefix('sio-reg').replace(/:$/, '');
    const [one, two] = await Promise.all([node(connection() as object, key), node(connection() as object, key)]);
    expect(one.adapter.mode).toBe(mode);
    // Its own connections, not the registry's client.
    expect(one.adapter.pubClient).not.toBe(one.registry.client('main'));
    expect(one.adapter.subClient).not.toBe(one.adapter.pubClient);
    const [c1, c2] = await Promise.all([client(one.url), client(two.url)]);
    // Wait until both servers' subscriptions are in place (serverSideEmit needs every server).
    await waitFor(async () => (await one.io.fetchSockets()).length === 2, 10_000, 'both servers to see both clients');
    one.io.emit('news', 'hello from one');
    await waitFor(() => c1.got.length === 1 && c2.got.length === 1, 5000, 'the broadcast on both clients');
    expect([c1.got, c2.got]).toEqual([['hello from one'], ['hello from one']]);
    const subscribers = async (): Promise<number> => {
      const main = one.registry.client('main') as Redis | Cluster;
      if (mode === 'classic') return Number(((await (main as Redis).pubsub('NUMSUB', `${key}-request#/#`)) as [string, number])[1]);
      const counts = await Promise.all((main as Cluster).nodes('master').map((n) => n.call('PUBSUB', 'SHARDNUMSUB', `${key}#/#`) as Promise<[string, number]>));
      return counts.reduce((sum, [, n]) => sum + Number(n), 0);
    };
    expect(await subscribers()).toBe(2);
    await one.adapter.close();
    // Closed: no socket left (a Cluster with sharded subscribers may stay at 'close'), its subscription gone.
    expect(['end', 'close']).toContain(one.adapter.pubClient.status);
    expect(['end', 'close']).toContain(one.adapter.subClient.status);
    await waitFor(async () => (await subscribers()) === 1, 5000, "one server's subscription to go");
    // The registry's own client is untouched.
    expect(one.registry.get('main').isReady).toBe(true);
  });
});

describe('createSocketIoAdapter outside Strapi', () => {
  it('without registry or client, says what to pass', () => {
    expect(() => createSocketIoAdapter({ connection: 'main' })).toThrow(
      /this is not a Strapi process .*pass \{ registry: createRedisRegistry\(\.\.\.\), connection: 'main' \} or \{ client: <ioredis client> \}/,
    );
  });
});
