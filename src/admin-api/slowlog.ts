/**
 * Slow commands per node: `SLOWLOG GET`, the threshold in use (`slowlog-log-slower-than`,
 * `slowlog-max-len`), and `LATENCY LATEST` where latency monitoring is on
 * (`latency-monitor-threshold` > 0). Standalone: the server; Sentinel: the master in use; Cluster:
 * every master and replica the client is linked to.
 *
 * A slow log entry carries the command's arguments, which may be values (a session, a token):
 * they are sent only to admins who may read keys, cut to `ARG_MAX_CHARS` each and
 * `MAX_ARGS_SHOWN` in all, redacted like every message, and a session key's arguments after the
 * key only to admins who may read session values. Redis itself already replaces the arguments of
 * AUTH and similar commands with `(redacted)`.
 */
import { Redis as RedisClient, type Cluster, type Redis } from 'ioredis';
import { parseClusterNodes, type RedisConnection } from '../core/connection.js';
import { RedisTimeoutError } from '../core/errors.js';
import { redactText } from '../core/redact.js';
import type { Topology } from '../core/config.js';
import { withTimeout } from '../core/time.js';
import { badParam } from './errors.js';
import { adminTimeout } from './keys.js';

/** Each argument is cut after this many characters. */
export const ARG_MAX_CHARS = 100;
/** At most this many arguments (the command name included) are shown per entry. */
export const MAX_ARGS_SHOWN = 16;
export const MAX_SLOWLOG_COUNT = 128;
const DEFAULT_SLOWLOG_COUNT = 50;

export interface SlowlogEntryView {
  id: number;
  /** When it ran (ISO time, the server's clock, whole seconds). */
  time: string;
  /** µs, as SLOWLOG reports it. */
  durationUs: number;
  /** The command and its arguments, each cut to `ARG_MAX_CHARS`, at most `MAX_ARGS_SHOWN`. */
  command: string[];
  /** Arguments left out: not allowed to this admin, or past `MAX_ARGS_SHOWN`. */
  argumentsWithheld?: number;
  /** Why some were left out. */
  withheld?: 'keys.read' | 'session' | 'length';
  /** `ip:port` of the client. */
  client: string;
  /** CLIENT SETNAME of the client ('' when it has none). */
  clientName: string;
}

export interface LatencyEventView {
  event: string;
  time: string;
  latestMs: number;
  maxMs: number;
}

export interface SlowlogNodeView {
  address: string;
  role?: 'master' | 'replica';
  entries: SlowlogEntryView[];
  /** `slowlog-log-slower-than`, µs (negative: logging is off; 0: every command); null when CONFIG GET is not allowed. */
  slowerThanUs: number | null;
  /** `slowlog-max-len`; null when CONFIG GET is not allowed. */
  maxLen: number | null;
  /** SLOWLOG LEN. */
  length: number | null;
  latency: {
    /** `latency-monitor-threshold` > 0. */
    enabled: boolean;
    /** ms; null when CONFIG GET is not allowed. */
    thresholdMs: number | null;
    /** LATENCY LATEST (empty when monitoring is off). */
    events: LatencyEventView[];
  };
  error?: string;
}

export interface SlowlogView {
  connection: string;
  topology: Topology;
  nodes: SlowlogNodeView[];
  fetchedAt: string;
}

export interface SlowlogOptions {
  /** The admin may read keys (`plugin::redis.keys.read`): arguments are shown. @default false */
  showArguments?: boolean;
  /** The admin may read session values: a session key's later arguments are shown. @default false */
  canReadSessions?: boolean;
  /** Keys starting with one of them are session keys. @default [] */
  sessionPrefixes?: readonly string[];
}

type Send = <T>(command: (client: Redis) => Promise<T>) => Promise<T>;

interface Node {
  address: string;
  role?: 'master' | 'replica';
  send: Send;
}

/**
 * The nodes of a connection. Cluster: every node CLUSTER NODES lists; those the client has no
 * link to (replicas CLUSTER SLOTS leaves out) through one short-lived connection each, closed by
 * `close()`.
 */
async function nodesOf(conn: RedisConnection): Promise<{ nodes: Node[]; close(): void }> {
  const timeout = adminTimeout(conn);
  const single = (address: string): Node => ({ address, send: (command) => conn.run((client) => command(client as Redis), timeout) });
  if (!conn.isCluster) {
    const client = conn.client as Redis;
    const s = client.stream;
    const address =
      conn.topology === 'sentinel' && s?.remoteAddress
        ? `${s.remoteAddress}:${s.remotePort}`
        : (client.options.path ?? `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`);
    return { nodes: [single(address)], close: () => undefined };
  }
  // Not ready: fail like every admin route (503) instead of listing nothing.
  if (!conn.isReady) return { nodes: [single(conn.config.endpoint)], close: () => undefined };
  const cluster = conn.client as Cluster;
  const described = parseClusterNodes(await conn.run((client) => (client as Cluster).cluster('NODES') as Promise<string>, timeout));
  const linked = new Map(cluster.nodes('all').map((n) => [`${n.options.host}:${n.options.port}`, n]));
  const opened: Redis[] = [];
  const nodes = described.map((n): Node => {
    let client = linked.get(n.address);
    if (!client || client.status === 'end') {
      const i = n.address.lastIndexOf(':');
      client = new RedisClient({
        ...(cluster.options.redisOptions ?? {}),
        host: n.address.slice(0, i),
        port: Number(n.address.slice(i + 1)),
        lazyConnect: true,
        connectTimeout: timeout,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      client.on('error', () => undefined); // the command's rejection reports it
      opened.push(client);
    }
    const node = client;
    return {
      address: n.address,
      ...(n.role ? { role: n.role } : {}),
      send: <T>(command: (client: Redis) => Promise<T>) =>
        n.state === 'fail'
          ? Promise.reject(new Error('the cluster marks this node as failed'))
          : withTimeout(command(node), timeout, () => new RedisTimeoutError(`${conn.name} (node ${n.address})`, timeout)),
    };
  });
  return { nodes, close: () => opened.forEach((client) => client.disconnect()) };
}

const toText = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

function cut(arg: string): string {
  return arg.length > ARG_MAX_CHARS ? `${arg.slice(0, ARG_MAX_CHARS)}… (${arg.length - ARG_MAX_CHARS} more characters)` : arg;
}

/** What of a logged command this admin sees. */
export function shownCommand(args: readonly string[], options: SlowlogOptions): Pick<SlowlogEntryView, 'command' | 'argumentsWithheld' | 'withheld'> {
  if (args.length === 0) return { command: [] };
  if (!options.showArguments) {
    return args.length > 1 ? { command: [args[0]!], argumentsWithheld: args.length - 1, withheld: 'keys.read' } : { command: [args[0]!] };
  }
  let keep = args.length;
  let withheld: SlowlogEntryView['withheld'];
  if (!options.canReadSessions) {
    const i = args.findIndex((a, index) => index > 0 && (options.sessionPrefixes ?? []).some((prefix) => a.startsWith(prefix)));
    if (i > 0 && i + 1 < args.length) {
      keep = i + 1;
      withheld = 'session';
    }
  }
  if (keep > MAX_ARGS_SHOWN) {
    keep = MAX_ARGS_SHOWN;
    withheld ??= 'length';
  }
  const command = args.slice(0, keep).map((a) => redactText(cut(a)));
  return keep < args.length ? { command, argumentsWithheld: args.length - keep, withheld: withheld ?? 'length' } : { command };
}

function countParam(value: unknown): number {
  if (value === undefined || value === '') return DEFAULT_SLOWLOG_COUNT;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SLOWLOG_COUNT) throw badParam('count', `an integer from 1 to ${MAX_SLOWLOG_COUNT}`, value);
  return n;
}

async function configNumber(send: Send, name: string): Promise<number | null> {
  try {
    const reply = (await send((client) => client.config('GET', name) as Promise<unknown>)) as unknown[];
    const value = Array.isArray(reply) ? reply[1] : undefined;
    const n = Number(value);
    return value === undefined || !Number.isFinite(n) ? null : n;
  } catch {
    return null; // CONFIG renamed or not allowed to this user
  }
}

async function nodeSlowlog(node: Node, count: number, options: SlowlogOptions): Promise<SlowlogNodeView> {
  const [raw, length, slowerThanUs, maxLen, thresholdMs] = await Promise.all([
    node.send((client) => client.call('SLOWLOG', 'GET', count) as Promise<unknown[]>),
    node.send((client) => client.call('SLOWLOG', 'LEN') as Promise<number>).catch(() => null),
    configNumber(node.send, 'slowlog-log-slower-than'),
    configNumber(node.send, 'slowlog-max-len'),
    configNumber(node.send, 'latency-monitor-threshold'),
  ]);
  const entries: SlowlogEntryView[] = (Array.isArray(raw) ? raw : []).map((e) => {
    const [id, at, duration, args, client, name] = e as [number, number, number, unknown[], unknown, unknown];
    return {
      id: Number(id),
      time: new Date(Number(at) * 1000).toISOString(),
      durationUs: Number(duration),
      ...shownCommand((Array.isArray(args) ? args : []).map(toText), options),
      client: client === undefined ? '' : toText(client),
      clientName: name === undefined ? '' : toText(name),
    };
  });
  const enabled = thresholdMs !== null && thresholdMs > 0;
  let events: LatencyEventView[] = [];
  if (enabled) {
    const latest = (await node.send((client) => client.call('LATENCY', 'LATEST') as Promise<unknown[]>).catch(() => [])) as unknown[];
    events = latest.map((row) => {
      const [event, at, latestMs, maxMs] = row as [unknown, number, number, number];
      return { event: toText(event), time: new Date(Number(at) * 1000).toISOString(), latestMs: Number(latestMs), maxMs: Number(maxMs) };
    });
  }
  return {
    address: node.address,
    ...(node.role ? { role: node.role } : {}),
    entries,
    slowerThanUs,
    maxLen,
    length: typeof length === 'number' ? length : null,
    latency: { enabled, thresholdMs, events },
  };
}

/**
 * The slow log of every node of a connection (see the module comment); `count` 1..128 entries per
 * node (default 50). A node that fails shows `error`; a connection that is down rejects
 * (`RedisUnavailableError`, 503).
 */
export async function slowlogView(conn: RedisConnection, query: { count?: unknown }, options: SlowlogOptions = {}): Promise<SlowlogView> {
  const count = countParam(query.count);
  const fetchedAt = new Date().toISOString();
  if (!conn.isCluster || !conn.isReady) {
    const { nodes } = await nodesOf(conn);
    return { connection: conn.name, topology: conn.topology, nodes: [await nodeSlowlog(nodes[0]!, count, options)], fetchedAt };
  }
  const { nodes, close } = await nodesOf(conn);
  const views = await Promise.all(
    nodes.map((node) =>
      nodeSlowlog(node, count, options).catch((err: unknown): SlowlogNodeView => ({
        address: node.address,
        ...(node.role ? { role: node.role } : {}),
        entries: [],
        slowerThanUs: null,
        maxLen: null,
        length: null,
        latency: { enabled: false, thresholdMs: null, events: [] },
        error: redactText((err as Error)?.message ?? String(err)),
      })),
    ),
  ).finally(close);
  return { connection: conn.name, topology: conn.topology, nodes: views, fetchedAt };
}
