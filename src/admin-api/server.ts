/**
 * The connections view (state, latency, nodes, which features use each connection) and the
 * server view (INFO of every node: memory, traffic, keyspace, replication). Neither shows a
 * secret: endpoints are the redacted ones of the config, errors go through `redactText`.
 */
import { Redis, type Cluster } from 'ioredis';
import { parseClusterNodes, type ConnectionStatus, type NodeStatus, type RedisConnection } from '../core/connection.js';
import { RedisTimeoutError } from '../core/errors.js';
import { serverStats, type ServerStats } from '../core/info.js';
import { redactText } from '../core/redact.js';
import type { RedisRegistry } from '../core/registry.js';
import type { Topology } from '../core/config.js';
import { withTimeout } from '../core/time.js';
import type { Feature } from '../core/usage.js';
import { adminTimeout } from './keys.js';

/** A node as the connections view lists it: the status' node facts without its INFO. */
export type ConnectionNodeView = Pick<NodeStatus, 'address' | 'role' | 'state' | 'pingMs'>;

export interface ConnectionView {
  name: string;
  topology: Topology;
  endpoint: string;
  state: string;
  ready: boolean;
  pingMs: number | null;
  features: Feature[];
  nodes: ConnectionNodeView[];
  lastError?: string;
  /** A command unanswered past `requestTimeout` on a link still up (a hung server; see `ConnectionStatus`). */
  unanswered?: { forMs: number; timeoutMs: number };
}

export interface ServerNodeView {
  address: string;
  role?: 'master' | 'replica';
  info: ServerStats | null;
  error?: string;
}

export interface ServerView {
  connection: string;
  topology: Topology;
  nodes: ServerNodeView[];
  fetchedAt: string;
}

/** `host:port` a standalone client points at (its socket path for a unix socket). */
function clientAddress(client: Redis): string {
  const config = client.options;
  return config.path ? config.path : `${config.host ?? '127.0.0.1'}:${config.port ?? 6379}`;
}

/** The Sentinel master in use (the socket's peer), or the configured address. */
function liveAddress(conn: RedisConnection): string {
  const c = conn.client as Redis;
  const s = c.stream;
  if (conn.topology === 'sentinel') return s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : conn.config.endpoint;
  return clientAddress(c);
}

export function connectionView(conn: RedisConnection, status: ConnectionStatus): ConnectionView {
  let nodes: ConnectionNodeView[];
  if (status.nodes) {
    nodes = status.nodes.map((n) => ({ address: n.address, ...(n.role ? { role: n.role } : {}), state: n.state, pingMs: n.pingMs }));
  } else {
    nodes = [{ address: liveAddress(conn), state: status.state, pingMs: status.pingMs }];
  }
  const view: ConnectionView = {
    name: status.name,
    topology: status.topology,
    endpoint: status.endpoint,
    state: status.state,
    ready: status.ready,
    pingMs: status.pingMs,
    features: [...conn.features],
    nodes,
  };
  if (status.lastError) view.lastError = redactText(status.lastError);
  if (status.unanswered) view.unanswered = { ...status.unanswered };
  return view;
}

/** Every enabled connection; never throws (a connection that is down shows its state and last error). */
export async function connectionsView(registry: RedisRegistry): Promise<ConnectionView[]> {
  const status = await registry.status();
  return status.connections.map((conn) => connectionView(registry.get(conn.name), conn));
}

function roleOf(info: ServerStats): 'master' | 'replica' | undefined {
  return info.role === 'master' ? 'master' : info.role === 'slave' ? 'replica' : undefined;
}

/**
 * INFO of every node of a connection: the server for standalone, the master in use for Sentinel,
 * every master and replica for Cluster (nodes this client has no link to, or that fail, show an
 * `error` and `info: null`). Rejects with `RedisUnavailableError`/`RedisTimeoutError` when the
 * connection itself is down.
 */
export async function serverView(conn: RedisConnection): Promise<ServerView> {
  const timeout = adminTimeout(conn);
  const fetchedAt = new Date().toISOString();
  if (!conn.isCluster) {
    const text = await conn.run((client) => (client as Redis).info(), timeout);
    const info = serverStats(text, (conn.client as Redis).options.db ?? 0);
    const role = roleOf(info);
    return { connection: conn.name, topology: conn.topology, nodes: [{ address: liveAddress(conn), ...(role ? { role } : {}), info }], fetchedAt };
  }
  const cluster = conn.client as Cluster;
  const described = parseClusterNodes(await conn.run((client) => (client as Cluster).cluster('NODES') as Promise<string>, timeout));
  const linked = new Map(cluster.nodes('all').map((n) => [`${n.options.host}:${n.options.port}`, n]));
  const nodes = await Promise.all(
    described.map(async (n): Promise<ServerNodeView> => {
      const base = { address: n.address, ...(n.role ? { role: n.role } : {}) };
      const node = linked.get(n.address);
      if (n.state === 'fail') return { ...base, info: null, error: 'the cluster marks this node as failed' };
      try {
        const text = await withTimeout(
          node && node.status !== 'end' ? node.info() : infoOnce(cluster, n.address, timeout),
          timeout,
          () => new RedisTimeoutError(`${conn.name} (node ${n.address})`, timeout),
        );
        return { ...base, info: serverStats(text, 0) };
      } catch (err) {
        return { ...base, info: null, error: redactText((err as Error).message) };
      }
    }),
  );
  return { connection: conn.name, topology: conn.topology, nodes, fetchedAt };
}

/**
 * INFO of a Cluster node the client has no link to (ioredis links only the nodes CLUSTER SLOTS
 * lists; Redis leaves out replicas it does not count as available yet, e.g. before their first
 * replication offset): one short-lived connection with the cluster's own node options (auth, TLS).
 */
async function infoOnce(cluster: Cluster, address: string, timeoutMs: number): Promise<string> {
  const i = address.lastIndexOf(':');
  const client = new Redis({
    ...(cluster.options.redisOptions ?? {}),
    host: address.slice(0, i),
    port: Number(address.slice(i + 1)),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // the command's rejection reports it
  try {
    await client.connect();
    return await client.info();
  } finally {
    client.disconnect();
  }
}
