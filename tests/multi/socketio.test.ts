/**
 * Socket.IO across two real Strapi 5.54 instances: each attaches Socket.IO servers with the
 * plugin's Redis adapter (the playground's PLAYGROUND_SOCKET_IO switch), one on the standalone
 * server (classic adapter, PUBLISH/SUBSCRIBE) and one on the Cluster (sharded adapter,
 * SPUBLISH/SSUBSCRIBE); a real socket.io-client is connected to each instance; an event emitted
 * on one instance reaches the clients of both.
 */
import { Cluster, Redis } from 'ioredis';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomPrefix } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { ensurePlaygroundInstalled, startApp, type AppHandle } from '../e2e/app.js';

const redis = inject('redis');
// Channel prefix of this run: the shared servers carry other runs' channels too.
const key = randomPrefix('sio').replace(/:$/, '');
const paths = { standalone: '/socket.io', cluster: '/socket.io-cluster' } as const;

let a: AppHandle;
let b: AppHandle;
const sockets: Socket[] = [];

beforeAll(async () => {
  await ensurePlaygroundInstalled({ quiet: true });
  const opts = (id: string) => ({
    pluginConfig: {
      connections: {
        default: { connection: redis.standalone.url },
        cluster: { connection: { nodes: redis.cluster.nodes } },
      },
    },
    env: { INSTANCE_ID: id, PLAYGROUND_SOCKET_IO: `default:${paths.standalone},cluster:${paths.cluster}`, PLAYGROUND_SOCKET_IO_KEY: key },
  });
  [a, b] = await Promise.all([startApp(opts('A')), startApp(opts('B'))]);
}, 180_000);

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  await Promise.all([a, b].map((x) => (x?.isRunning() ? x.stop() : undefined)));
});

/** Subscribers of a shard channel: only the master that owns its slot counts them; sum over the masters. */
async function shardSubscribers(cluster: Cluster, channel: string): Promise<number> {
  const counts = await Promise.all(cluster.nodes('master').map((n) => n.call('PUBSUB', 'SHARDNUMSUB', channel) as Promise<[string, number]>));
  return counts.reduce((sum, [, n]) => sum + Number(n), 0);
}

interface Shouted {
  msg: string;
  via: string;
  connection: string;
  mode: string;
}

async function client(app: AppHandle, path: string): Promise<{ socket: Socket; got: Shouted[] }> {
  const socket = connect(app.url, { path, transports: ['websocket'], reconnection: false, timeout: 10_000 });
  sockets.push(socket);
  const got: Shouted[] = [];
  socket.on('shouted', (m: Shouted) => got.push(m));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, got };
}

describe.each([
  { topology: 'standalone', path: paths.standalone, mode: 'classic', connection: 'default' },
  { topology: 'Cluster', path: paths.cluster, mode: 'sharded', connection: 'cluster' },
] as const)('Socket.IO across instances on $topology ($mode adapter)', ({ topology, path, mode, connection }) => {
  it('an event emitted on one instance reaches the clients of both, in both directions', async () => {
    const [onA, onB] = await Promise.all([client(a, path), client(b, path)]);
    const ack = (socket: Socket, msg: string) => new Promise<void>((r) => socket.emit('shout', msg, () => r()));
    await ack(onA.socket, `from-A-${topology}`);
    await waitFor(() => onA.got.length >= 1 && onB.got.length >= 1, 5000, `"from-A" on both clients (${topology})`);
    await ack(onB.socket, `from-B-${topology}`);
    await waitFor(() => onA.got.length >= 2 && onB.got.length >= 2, 5000, `"from-B" on both clients (${topology})`);
    for (const got of [onA.got, onB.got]) {
      expect(got).toEqual([
        { msg: `from-A-${topology}`, via: 'A', connection, mode },
        { msg: `from-B-${topology}`, via: 'B', connection, mode },
      ]);
    }
  });
});

describe('the adapters use Redis as the topology asks', () => {
  it('standalone: SUBSCRIBE/PSUBSCRIBE channels of this run, one per instance; Cluster: shard channels (SSUBSCRIBE) on its masters', async () => {
    const standalone = new Redis(redis.standalone.url);
    const cluster = new Cluster(redis.cluster.nodes);
    try {
      // nodes('master') lists nodes only once the client has the slot map.
      await cluster.ping();
      // Classic adapter: a pattern subscription on the namespace channel, and request/response channels.
      const channels = (await standalone.pubsub('CHANNELS', `${key}*`)) as string[];
      expect(channels).toContain(`${key}-request#/#`);
      expect(channels).toContain(`${key}-response#/#`);
      const [, requestSubscribers] = (await standalone.pubsub('NUMSUB', `${key}-request#/#`)) as [string, number];
      expect(requestSubscribers).toBe(2);
      const shardChannels = (await Promise.all(cluster.nodes('master').map((n) => n.call('PUBSUB', 'SHARDCHANNELS', `${key}#*`) as Promise<string[]>))).flat();
      expect(shardChannels).toContain(`${key}#/#`);
      // Two instances, each subscribed to the sharded namespace channel.
      expect(await shardSubscribers(cluster, `${key}#/#`)).toBe(2);
      // And nothing of the sharded adapter went through classic pub/sub on the cluster.
      const classicOnCluster = (await Promise.all(cluster.nodes('master').map((n) => n.call('PUBSUB', 'CHANNELS', `${key}#*`) as Promise<string[]>))).flat();
      expect(classicOnCluster).toEqual([]);
    } finally {
      standalone.disconnect();
      cluster.disconnect();
    }
  });

  it('the playground says which adapter each server got', () => {
    for (const app of [a, b]) {
      expect(app.logs()).toContain(`Socket.IO on ${paths.standalone}: classic Redis adapter on connection "default"`);
      expect(app.logs()).toContain(`Socket.IO on ${paths.cluster}: sharded Redis adapter on connection "cluster"`);
    }
  });
});

describe("the plugin owns the adapters' connections", () => {
  it("closes them on Strapi's destroy: A exits cleanly and its subscriptions are gone", async () => {
    const standalone = new Redis(redis.standalone.url);
    const cluster = new Cluster(redis.cluster.nodes);
    try {
      // nodes('master') lists nodes only once the client has the slot map.
      await cluster.ping();
      const exit = await a.stop('SIGTERM', 15_000);
      expect(exit).toMatchObject({ code: 0, killed: false });
      const [, requestSubscribers] = (await standalone.pubsub('NUMSUB', `${key}-request#/#`)) as [string, number];
      expect(requestSubscribers).toBe(1);
      expect(await shardSubscribers(cluster, `${key}#/#`)).toBe(1);
    } finally {
      standalone.disconnect();
      cluster.disconnect();
    }
  });
});
