/**
 * The schema of a connection value (`redis.connections.<name>.connection`): a URL, one server, a
 * Cluster (`{ nodes, options }`) or a Sentinel group (`{ sentinels, name }`), picked by its shape
 * (`topologyOf`). The values are ioredis options, typed by ioredis (`ConnectionInput`); this
 * checks the options most often set by hand and lets the others through to ioredis unchecked.
 */
import type { ConnectionInput } from './config.js';
import { topologyOf } from './topology.js';
import { always, bool, checked, custom, fn, int, isPlainObject, ms, oneOf, options, select, str, z } from './schema.js';

const MAX = Number.MAX_SAFE_INTEGER;
export const port = int(1, 65535, 'an integer port from 1 to 65535');
export const nonEmpty = str('a non-empty string', 'blank');

/** A `redis://` / `rediss://` URL: each problem reported (a bad port and a bad database are two). */
const redisUrl = checked<string>((value, report) => {
  const url = value as string;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    report([], url, 'a URL like redis://user:password@host:6379/0 (or rediss:// for TLS)');
    return;
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    const scheme = u.protocol.replace(/:$/, '');
    report([], url, `a redis:// or rediss:// URL (scheme "${scheme}" is not supported; for a Unix socket use { path: '/path/to/redis.sock' })`);
    return;
  }
  if (!u.hostname) report([], url, 'a URL with a host, like redis://127.0.0.1:6379');
  if (u.port !== '' && !port.safeParse(Number(u.port)).success) report([], url, 'a URL port from 1 to 65535');
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) report([], url, `a database index after the host (like /0); got "/${db}"`);
});

/** Types of the ioredis options most often set by hand; others pass through to ioredis unchecked. */
const redisOptionShape = {
  host: nonEmpty.optional(),
  port: port.optional(),
  path: nonEmpty.optional(),
  db: int(0, MAX, `a database index, an integer from 0 to ${MAX}`).optional(),
  username: str().optional(),
  password: str().optional(),
  tls: custom<boolean | Record<string, unknown>>((v) => (typeof v === 'boolean' || isPlainObject(v) ? null : 'true or false or an object')).optional(),
  family: oneOf([0, 4, 6], '4, 6 or 0').optional(),
  keyPrefix: str().optional(),
  connectionName: str().optional(),
  connectTimeout: ms(0).optional(),
  commandTimeout: ms(1).optional(),
  keepAlive: ms(0).optional(),
  maxRetriesPerRequest: int(0, MAX, `an integer from 0 to ${MAX}`).nullable().optional(),
  enableOfflineQueue: bool().optional(),
  enableReadyCheck: bool().optional(),
  enableAutoPipelining: bool().optional(),
  lazyConnect: bool().optional(),
  retryStrategy: fn().optional(),
  reconnectOnError: fn().optional(),
  sentinelPassword: str().optional(),
  sentinelUsername: str().optional(),
  role: oneOf(['master', 'slave']).optional(),
  failoverDetector: bool().optional(),
  enableTLSForSentinelMode: bool().optional(),
};

const redisOptions = options(redisOptionShape, { open: true });

const clusterOptions = options(
  {
    redisOptions: redisOptions.optional(),
    scaleReads: custom<string | ((...args: never[]) => unknown)>((v) =>
      v === 'master' || v === 'slave' || v === 'all' || typeof v === 'function' ? null : '"master", "slave", "all" or a function',
    ).optional(),
    maxRedirections: int(0, MAX, `an integer from 0 to ${MAX}`).optional(),
    retryDelayOnFailover: ms(0).optional(),
    retryDelayOnClusterDown: ms(0).optional(),
    retryDelayOnTryAgain: ms(0).optional(),
    slotsRefreshTimeout: ms(1).optional(),
    slotsRefreshInterval: ms(0).optional(),
    enableOfflineQueue: bool().optional(),
    enableReadyCheck: bool().optional(),
    enableAutoPipelining: bool().optional(),
    lazyConnect: bool().optional(),
    clusterRetryStrategy: fn().optional(),
    keyPrefix: str().optional(),
    natMap: custom<unknown>((v) => (isPlainObject(v) || typeof v === 'function' ? null : 'an object or a function')).optional(),
    dnsLookup: fn().optional(),
    useSRVRecords: bool().optional(),
  },
  { open: true },
);

/** Cluster startup nodes or sentinel addresses: a non-empty list of `{ host, port }` (nodes also `'host:port'`, a URL, a port). */
function addressList(what: 'nodes' | 'sentinels') {
  const example = what === 'nodes' ? "[{ host: '10.0.0.1', port: 7000 }]" : "[{ host: '10.0.0.5', port: 26379 }]";
  const expected = `a non-empty array of ${what === 'nodes' ? 'Cluster startup nodes' : 'sentinel addresses'}, like ${example}`;
  const address = always(options({ host: nonEmpty.optional(), port: port.optional() }, { open: true }), (v, report) => {
    if (isPlainObject(v) && v.host === undefined && v.port === undefined) report([], v, '{ host, port } with at least a host or a port');
  });
  const hostPort = custom<string>((v) => {
    const s = v as string;
    return /^[^:\s]+:\d+$/.test(s) && port.safeParse(Number(s.split(':')[1])).success ? null : '"host:port", a redis:// URL or { host, port }';
  });
  const entry = select<unknown>((v) => {
    if (what === 'nodes' && typeof v === 'number') return port;
    if (what === 'nodes' && typeof v === 'string') return v.includes('://') ? redisUrl : hostPort;
    return isPlainObject(v) ? address : `{ host, port }, like ${example}`;
  });
  return z.array(entry, { error: expected }).min(1, { error: expected });
}

const clusterConnection = options(
  { nodes: addressList('nodes'), options: clusterOptions.optional() },
  { hint: '; Cluster client options go under connection.options (auth/TLS: options.redisOptions)' },
);

const sentinelConnection = options(
  {
    ...redisOptionShape,
    sentinels: addressList('sentinels'),
    name: custom<string>((v) =>
      v === undefined ? "the master group name the sentinels monitor (e.g. name: 'mymaster')" : nonEmpty.safeParse(v).success ? null : 'a non-empty string',
    ),
    // host and port beside sentinels are v2 leftovers: accepted, then dropped by the resolver
    host: z.unknown().optional(),
    port: z.unknown().optional(),
    url: custom<never>(() => 'no url with sentinels').optional(),
  },
  { open: true },
);

const standaloneConnection = options(
  {
    ...redisOptionShape,
    url: select<string>((v) => (typeof v === 'string' ? redisUrl : 'a redis:// or rediss:// URL string')).optional(),
    socket: custom<{ socketPath: string }>((s) =>
      isPlainObject(s) && typeof s.socketPath === 'string' && s.socketPath !== ''
        ? null
        : "{ socketPath: '/path/to/redis.sock' } (or use path: '/path/to/redis.sock')",
    ).optional(),
  },
  { open: true },
);

/** A connection value: the client is picked by its shape (see `topologyOf`). */
export const connectionSchema = select<ConnectionInput, ConnectionInput>((value) => {
  if (value === undefined) return "a redis:// URL or ioredis options, e.g. connection: 'redis://127.0.0.1:6379'";
  if (typeof value === 'string') return redisUrl;
  if (!isPlainObject(value)) {
    return 'a redis:// URL string or an options object: { host, port }, { nodes: [...] } for Cluster, or { sentinels: [...], name } for Sentinel';
  }
  if (value.nodes !== undefined && value.sentinels !== undefined) return 'either nodes (Cluster) or sentinels (Sentinel), not both';
  const topology = topologyOf(value);
  return topology === 'cluster' ? clusterConnection : topology === 'sentinel' ? sentinelConnection : standaloneConnection;
});
