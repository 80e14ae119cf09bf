/**
 * The plugin configuration: the input users write in `config/plugins.ts`, its validation
 * (one pass that collects every problem with its path), and the resolved, frozen form the
 * code uses. This is the single source of truth for option names, types and defaults.
 */
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { RedisConfigError, type ConfigIssue } from './errors.js';
import { describeValue, redactUrl, typeOf } from './redact.js';

export const PLUGIN_ID = 'redis';
/** Used when no `connections` are configured at all. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export type Topology = 'standalone' | 'cluster' | 'sentinel';

/** A Cluster startup node: `{ host, port }`, `'host:port'` or a `redis://` URL, or a bare port. */
export type ClusterNodeInput = { host?: string; port?: number } | string | number;

/** Standalone (or URL) connection options: any ioredis `RedisOptions`, plus an optional `url`. */
export type StandaloneConnectionInput = RedisOptions & {
  /** `redis://` or `rediss://` URL; the other options are applied on top of it. */
  url?: string;
  /** v2 spelling of a Unix socket; prefer `path`. */
  socket?: { socketPath?: string };
};

export interface ClusterConnectionInput {
  /** Startup nodes of the Redis Cluster. Its presence selects the Cluster client. */
  nodes: ClusterNodeInput[];
  /** ioredis `ClusterOptions` (put `redisOptions: { password, tls }` here for auth/TLS). */
  options?: ClusterOptions;
}

export type SentinelConnectionInput = RedisOptions & {
  /** Sentinel addresses. Their presence selects the Sentinel client. */
  sentinels: Array<{ host?: string; port?: number }>;
  /** The master group name the sentinels monitor. */
  name: string;
};

export type ConnectionInput = string | StandaloneConnectionInput | ClusterConnectionInput | SentinelConnectionInput;

export interface ConnectionEntryInput {
  /** A `redis://`/`rediss://` URL, ioredis options, `{ nodes, options }` (Cluster) or `{ sentinels, name }` (Sentinel). */
  connection: ConnectionInput;
  /** Create this connection. @default true */
  enabled?: boolean;
  /** v2 per-connection settings. */
  settings?: { debug?: boolean };
  /** How long boot waits for this connection to be ready, in ms. @default settings.readyTimeout */
  readyTimeout?: number;
  /** Stop boot when the connection is not ready within `readyTimeout`. @default false (log a warning and continue) */
  required?: boolean;
  /**
   * Bound, in ms, for each command the suite's request-path features (rate limit, session,
   * response cache writes, Apollo cache) send on this connection. When the connection is not
   * ready such commands fail at once instead of waiting in ioredis' offline queue, and when it
   * closes while they wait for a reply they fail at once too. The admin API uses
   * `max(requestTimeout, 2000)`. Does not change the raw `client`. @default 250
   */
  requestTimeout?: number;
}

export interface RedisSettingsInput {
  /** Log connection lifecycle details through Strapi's logger (info level). v2 name. @default false */
  debug?: boolean;
  /** Turn on ioredis' own debug output (`DEBUG=ioredis:*`), with secrets scrubbed. v2 name. @default false */
  debugIORedis?: boolean;
  /** Guard every cron task with a distributed lock. v2 name. @default false */
  enableRedlock?: boolean;
  /** Lock TTL for cron tasks, in ms. v2 name. @default 5000 */
  lockTTL?: number;
  /** v2 name, accepted and ignored: ticks are keyed by their schedule, not delayed. */
  lockDelay?: number | null;
  /** Options for the `redlock` package. v2 name. @default {} */
  redlockConfig?: Record<string, unknown>;
  /** Default bound, in ms, on how long boot waits for each connection to become ready. @default 5000 */
  readyTimeout?: number;
  /**
   * The connections that form the Redlock quorum: independent masters (an odd number avoids split
   * votes). @default [the first enabled connection]
   */
  redlockConnections?: string[];
  /** Bound, in ms, on every lock acquire, retries included. @default 5000 */
  lockAcquireTimeout?: number;
  /**
   * Hold a distributed lock around Strapi's bootstrap (migrations, the schema sync, the plugins'
   * and the app's seeding), so that one instance migrates while the others wait.
   * On whenever there is a lock connection (`redlockConnections`). @default true
   */
  bootLock?: boolean;
  /** Bound, in ms, on how long boot waits for the boot lock held by another instance; then boot stops. @default 300000 */
  bootLockTimeout?: number;
  /** The boot lock's TTL in ms: extended while this instance syncs, expires this long after a holder died. @default 10000 */
  bootLockTTL?: number;
  /**
   * When the boot lock cannot be taken because Redis is unavailable: `'proceed'` syncs without it
   * (with a warning), `'fail'` retries until `bootLockTimeout`, then stops boot. @default 'proceed'
   */
  bootLockOnError?: 'proceed' | 'fail';
  /**
   * Keep every instance's webhook runner in step: changes made through one instance's admin are
   * announced on a Redis channel and applied by the others. @default true
   */
  webhookSync?: boolean;
  /** The connection that carries the webhook announcements. @default the first enabled connection */
  webhookSyncConnection?: string;
  /** The pub/sub channel of the webhook announcements. @default 'strapi-redis-suite:webhooks' */
  webhookSyncChannel?: string;
  /**
   * Sample every connection's INFO for the admin panel's health charts, once per `healthInterval`
   * across all instances (a lock claim per interval elects the sampler). @default true
   */
  healthSampling?: boolean;
  /** How often the health sampler runs, in ms (the charts keep the last 15 minutes). @default 10000 */
  healthInterval?: number;
}

export interface RedisPluginConfigInput {
  settings?: RedisSettingsInput;
  connections?: Record<string, ConnectionEntryInput>;
}

export interface ResolvedSettings {
  readonly debug: boolean;
  readonly debugIORedis: boolean;
  readonly enableRedlock: boolean;
  readonly lockTTL: number;
  readonly lockDelay: number | null;
  readonly redlockConfig: Readonly<Record<string, unknown>>;
  readonly readyTimeout: number;
  /** Resolved: never empty once connections exist. */
  readonly redlockConnections: readonly string[];
  readonly lockAcquireTimeout: number;
  readonly bootLock: boolean;
  readonly bootLockTimeout: number;
  readonly bootLockTTL: number;
  readonly bootLockOnError: 'proceed' | 'fail';
  readonly webhookSync: boolean;
  /** Resolved: the first enabled connection by default; null when none is enabled. */
  readonly webhookSyncConnection: string | null;
  readonly webhookSyncChannel: string;
  readonly healthSampling: boolean;
  readonly healthInterval: number;
}

export interface ResolvedConnectionConfig {
  readonly name: string;
  readonly enabled: boolean;
  readonly topology: Topology;
  /** The user's connection value (a frozen copy; Buffers and functions kept by reference). */
  readonly connection: ConnectionInput;
  readonly readyTimeout: number;
  readonly required: boolean;
  readonly requestTimeout: number;
  readonly debug: boolean;
  /** A printable description of where it points, with no secrets. */
  readonly endpoint: string;
}

export interface ResolvedRedisConfig {
  readonly settings: ResolvedSettings;
  readonly connections: Readonly<Record<string, ResolvedConnectionConfig>>;
}

export const DEFAULT_SETTINGS: ResolvedSettings = Object.freeze({
  debug: false,
  debugIORedis: false,
  enableRedlock: false,
  lockTTL: 5000,
  lockDelay: null,
  redlockConfig: Object.freeze({}),
  readyTimeout: 5000,
  redlockConnections: Object.freeze([]) as readonly string[],
  lockAcquireTimeout: 5000,
  bootLock: true,
  bootLockTimeout: 300_000,
  bootLockTTL: 10_000,
  bootLockOnError: 'proceed',
  webhookSync: true,
  webhookSyncConnection: null,
  webhookSyncChannel: 'strapi-redis-suite:webhooks',
  healthSampling: true,
  healthInterval: 10_000,
});

/**
 * The default `requestTimeout`, in ms: the bound on each request-path command (rate limit,
 * sessions, response cache writes, the Apollo cache, Keyv), and for a raw `client` given to those
 * features. Kept short so that a server that hangs costs a request at most this much per command
 * (a server that dies closes the socket, and commands in flight fail at once, see `runBounded`).
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 250;

/** Defaults of a `connections.<name>` entry (`readyTimeout` defaults to `settings.readyTimeout`, `settings.debug` to `settings.debug`). */
export const CONNECTION_DEFAULTS = Object.freeze({
  enabled: true,
  required: false,
  requestTimeout: DEFAULT_REQUEST_TIMEOUT_MS,
});

type Check = (value: unknown) => string | null;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

const boolean: Check = (v) => (typeof v === 'boolean' ? null : 'true or false');
const string: Check = (v) => (typeof v === 'string' ? null : 'a string');
const nonEmptyString: Check = (v) => (typeof v === 'string' && v.trim() !== '' ? null : 'a non-empty string');
const fn: Check = (v) => (typeof v === 'function' ? null : 'a function');
const plainObject: Check = (v) => (isPlainObject(v) ? null : 'an object');
const intMs = (min: number): Check => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min ? null : `an integer number of milliseconds >= ${min}`;
const int = (min: number, max = Number.MAX_SAFE_INTEGER, what = 'an integer'): Check => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? null : `${what} from ${min} to ${max}`;
const port = int(1, 65535, 'an integer port');
const nullable = (c: Check): Check => (v) => (v === null ? null : c(v));
const oneOf = (...checks: Check[]): Check => (v) => {
  const fails = checks.map((c) => c(v));
  return fails.some((f) => f === null) ? null : fails.join(' or ');
};

const SETTINGS_SPEC: Record<keyof RedisSettingsInput, Check> = {
  debug: boolean,
  debugIORedis: boolean,
  enableRedlock: boolean,
  lockTTL: intMs(1),
  lockDelay: nullable(intMs(0)),
  redlockConfig: (v) => {
    if (!isPlainObject(v)) return 'an object of redlock options ({ driftFactor, retryCount, retryDelay, retryJitter })';
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'number' || !Number.isFinite(x)) return `numeric redlock options (${k} is ${typeOf(x)})`;
    }
    return null;
  },
  readyTimeout: intMs(0),
  redlockConnections: (v) =>
    Array.isArray(v) && v.length > 0 && v.every((n) => typeof n === 'string' && n !== '')
      ? null
      : "a non-empty array of connection names, like ['default'] or ['lockA', 'lockB', 'lockC']",
  lockAcquireTimeout: intMs(1),
  bootLock: boolean,
  bootLockTimeout: intMs(1),
  bootLockTTL: intMs(1000),
  bootLockOnError: (v) => (v === 'proceed' || v === 'fail' ? null : '"proceed" or "fail"'),
  webhookSync: boolean,
  webhookSyncConnection: nonEmptyString,
  webhookSyncChannel: nonEmptyString,
  healthSampling: boolean,
  healthInterval: intMs(1000),
};

const ENTRY_SPEC: Record<keyof ConnectionEntryInput, Check | null> = {
  connection: null, // checked on its own
  enabled: boolean,
  settings: null, // checked on its own
  readyTimeout: intMs(0),
  required: boolean,
  requestTimeout: intMs(1),
};

/** Types of the ioredis options most often set by hand; others pass through to ioredis unchecked. */
const REDIS_OPTION_SPEC: Record<string, Check> = {
  host: nonEmptyString,
  port,
  path: nonEmptyString,
  db: int(0, Number.MAX_SAFE_INTEGER, 'a database index, an integer'),
  username: string,
  password: string,
  tls: oneOf(boolean, plainObject),
  family: (v) => (v === 0 || v === 4 || v === 6 ? null : '4, 6 or 0'),
  keyPrefix: string,
  connectionName: string,
  connectTimeout: intMs(0),
  commandTimeout: intMs(1),
  keepAlive: intMs(0),
  maxRetriesPerRequest: nullable(int(0, Number.MAX_SAFE_INTEGER, 'an integer')),
  enableOfflineQueue: boolean,
  enableReadyCheck: boolean,
  enableAutoPipelining: boolean,
  lazyConnect: boolean,
  retryStrategy: fn,
  reconnectOnError: fn,
  sentinelPassword: string,
  sentinelUsername: string,
  role: (v) => (v === 'master' || v === 'slave' ? null : '"master" or "slave"'),
  failoverDetector: boolean,
  enableTLSForSentinelMode: boolean,
  url: (v) => (typeof v === 'string' ? null : 'a redis:// or rediss:// URL string'),
};

const CLUSTER_OPTION_SPEC: Record<string, Check> = {
  redisOptions: plainObject,
  scaleReads: oneOf(
    (v) => (v === 'master' || v === 'slave' || v === 'all' ? null : '"master", "slave", "all"'),
    fn,
  ),
  maxRedirections: int(0),
  retryDelayOnFailover: intMs(0),
  retryDelayOnClusterDown: intMs(0),
  retryDelayOnTryAgain: intMs(0),
  slotsRefreshTimeout: intMs(1),
  slotsRefreshInterval: intMs(0),
  enableOfflineQueue: boolean,
  enableReadyCheck: boolean,
  enableAutoPipelining: boolean,
  lazyConnect: boolean,
  clusterRetryStrategy: fn,
  keyPrefix: string,
  natMap: oneOf(plainObject, fn),
  dnsLookup: fn,
  useSRVRecords: boolean,
};

/** Every key `settings` accepts. */
export const SETTINGS_OPTION_NAMES: readonly (keyof RedisSettingsInput)[] = Object.freeze(Object.keys(SETTINGS_SPEC) as (keyof RedisSettingsInput)[]);
/** Every key a `connections.<name>` entry accepts. */
export const CONNECTION_OPTION_NAMES: readonly (keyof ConnectionEntryInput)[] = Object.freeze(Object.keys(ENTRY_SPEC) as (keyof ConnectionEntryInput)[]);
/** Every key a `connections.<name>.settings` object accepts (v2's per-connection settings). */
export const CONNECTION_SETTINGS_OPTION_NAMES: readonly string[] = Object.freeze(['debug']);

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;

class Collector {
  readonly issues: ConfigIssue[] = [];

  add(path: string, value: unknown, expected: string, key?: string): void {
    this.issues.push({ path, got: describeValue(value, key ?? lastKey(path)), expected });
  }

  check(path: string, value: unknown, check: Check): boolean {
    const expected = check(value);
    if (expected === null) return true;
    this.add(path, value, expected);
    return false;
  }

  unknownKeys(path: string, obj: Record<string, unknown>, known: readonly string[], hint = ''): void {
    for (const k of Object.keys(obj)) {
      if (!known.includes(k)) {
        const near = closest(k, known);
        this.add(
          `${path}.${k}`,
          obj[k],
          `no such option${near ? ` (did you mean "${near}"?)` : ''}; known options: ${known.join(', ')}${hint}`,
          k,
        );
      }
    }
  }
}

function lastKey(path: string): string {
  const i = path.lastIndexOf('.');
  return i === -1 ? path : path.slice(i + 1);
}

/** The candidate nearest to a mistyped option name, if any is near enough (a "did you mean"). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function checkUrl(c: Collector, path: string, url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    c.add(path, url, 'a URL like redis://user:password@host:6379/0 (or rediss:// for TLS)');
    return;
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    c.add(
      path,
      url,
      `a redis:// or rediss:// URL (scheme "${u.protocol.replace(/:$/, '')}" is not supported; for a Unix socket use { path: '/path/to/redis.sock' })`,
    );
    return;
  }
  if (!u.hostname) c.add(path, url, 'a URL with a host, like redis://127.0.0.1:6379');
  if (u.port !== '' && port(Number(u.port)) !== null) c.add(path, url, 'a URL port from 1 to 65535');
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) c.add(path, url, `a database index after the host (like /0); got "/${db}"`);
}

function checkOptions(c: Collector, path: string, obj: Record<string, unknown>, spec: Record<string, Check>): void {
  for (const [k, check] of Object.entries(spec)) {
    if (obj[k] !== undefined) c.check(`${path}.${k}`, obj[k], check);
  }
}

function checkNodeList(
  c: Collector,
  path: string,
  list: unknown,
  what: 'nodes' | 'sentinels',
): void {
  const example = what === 'nodes' ? "[{ host: '10.0.0.1', port: 7000 }]" : "[{ host: '10.0.0.5', port: 26379 }]";
  if (!Array.isArray(list) || list.length === 0) {
    c.add(path, list, `a non-empty array of ${what === 'nodes' ? 'Cluster startup nodes' : 'sentinel addresses'}, like ${example}`);
    return;
  }
  list.forEach((node, i) => {
    const at = `${path}[${i}]`;
    if (what === 'nodes' && (typeof node === 'string' || typeof node === 'number')) {
      if (typeof node === 'number') c.check(at, node, port);
      else if (node.includes('://')) checkUrl(c, at, node);
      else if (!/^[^:\s]+:\d+$/.test(node) || port(Number(node.split(':')[1])) !== null)
        c.add(at, node, `"host:port", a redis:// URL or { host, port }`);
      return;
    }
    if (!isPlainObject(node)) {
      c.add(at, node, `{ host, port }, like ${example}`);
      return;
    }
    if (node.host !== undefined) c.check(`${at}.host`, node.host, nonEmptyString);
    if (node.port !== undefined) c.check(`${at}.port`, node.port, port);
    if (node.host === undefined && node.port === undefined) c.add(at, node, '{ host, port } with at least a host or a port');
  });
}

/** Which client a connection value asks for: decided here, and only here. */
export function topologyOf(connection: unknown): Topology {
  if (isPlainObject(connection)) {
    if (connection.nodes !== undefined) return 'cluster';
    if (connection.sentinels !== undefined) return 'sentinel';
  }
  return 'standalone';
}

function checkConnection(c: Collector, path: string, value: unknown): void {
  if (typeof value === 'string') {
    checkUrl(c, path, value);
    return;
  }
  if (!isPlainObject(value)) {
    c.add(
      path,
      value,
      "a redis:// URL string or an options object: { host, port }, { nodes: [...] } for Cluster, or { sentinels: [...], name } for Sentinel",
    );
    return;
  }
  if (value.nodes !== undefined && value.sentinels !== undefined) {
    c.add(path, value, 'either nodes (Cluster) or sentinels (Sentinel), not both');
    return;
  }
  const topology = topologyOf(value);
  if (topology === 'cluster') {
    checkNodeList(c, `${path}.nodes`, value.nodes, 'nodes');
    c.unknownKeys(path, value, ['nodes', 'options'], '; Cluster client options go under connection.options (auth/TLS: options.redisOptions)');
    if (value.options !== undefined && c.check(`${path}.options`, value.options, plainObject)) {
      const opts = value.options as Record<string, unknown>;
      checkOptions(c, `${path}.options`, opts, CLUSTER_OPTION_SPEC);
      if (isPlainObject(opts.redisOptions)) checkOptions(c, `${path}.options.redisOptions`, opts.redisOptions, REDIS_OPTION_SPEC);
    }
    return;
  }
  if (topology === 'sentinel') {
    checkNodeList(c, `${path}.sentinels`, value.sentinels, 'sentinels');
    if (value.name === undefined) c.add(`${path}.name`, undefined, "the master group name the sentinels monitor (e.g. name: 'mymaster')");
    else c.check(`${path}.name`, value.name, nonEmptyString);
    checkOptions(c, path, value, { ...REDIS_OPTION_SPEC, host: () => null, port: () => null, url: () => 'no url with sentinels' });
    return;
  }
  if (value.url !== undefined && typeof value.url === 'string') checkUrl(c, `${path}.url`, value.url);
  if (value.socket !== undefined) {
    const s = value.socket;
    if (!isPlainObject(s) || typeof s.socketPath !== 'string' || !s.socketPath)
      c.add(`${path}.socket`, s, "{ socketPath: '/path/to/redis.sock' } (or use path: '/path/to/redis.sock')");
  }
  checkOptions(c, path, value, REDIS_OPTION_SPEC);
}

function describeEndpoint(topology: Topology, connection: unknown): string {
  if (typeof connection === 'string') return redactUrl(connection);
  const o = (isPlainObject(connection) ? connection : {}) as Record<string, unknown>;
  if (topology === 'cluster') {
    const nodes = (o.nodes as ClusterNodeInput[]).map((n) =>
      typeof n === 'object' ? `${n.host ?? '127.0.0.1'}:${n.port ?? 6379}` : redactUrl(String(n)),
    );
    return `cluster ${nodes.join(',')}`;
  }
  if (topology === 'sentinel') {
    const s = (o.sentinels as Array<{ host?: string; port?: number }>).map((n) => `${n.host ?? '127.0.0.1'}:${n.port ?? 26379}`);
    return `sentinel ${String(o.name)}@${s.join(',')}`;
  }
  if (typeof o.url === 'string') return redactUrl(o.url);
  const socket = (o.path as string | undefined) ?? (o.socket as { socketPath?: string } | undefined)?.socketPath;
  if (socket) return `unix:${socket}`;
  return `${o.tls ? 'rediss' : 'redis'}://${(o.host as string | undefined) ?? '127.0.0.1'}:${(o.port as number | undefined) ?? 6379}/${(o.db as number | undefined) ?? 0}`;
}

/** An object literal (not a Buffer, Map, class instance...): safe to copy and freeze. */
function isLiteralObject(v: unknown): v is Record<string, unknown> {
  if (!isPlainObject(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Copy plain objects and arrays (so the user's objects are never mutated); keep other objects by reference. */
export function clonePlain<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => clonePlain(v)) as T;
  if (isLiteralObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = clonePlain(v);
    return out as T;
  }
  return value;
}

function freezePlain<T>(value: T): T {
  if (Array.isArray(value)) {
    value.forEach((v) => freezePlain(v));
    return Object.freeze(value);
  }
  if (isLiteralObject(value)) {
    for (const v of Object.values(value)) freezePlain(v);
    return Object.freeze(value);
  }
  return value;
}

/**
 * Check a plugin config. Returns every problem found (empty when valid). Paths start at the plugin
 * id, e.g. `redis.connections.cache.connection.port`.
 */
export function collectConfigIssues(input: unknown): ConfigIssue[] {
  const c = new Collector();
  const root = PLUGIN_ID;
  if (input === undefined || input === null) return c.issues;
  if (!isPlainObject(input)) {
    c.add(root, input, 'an object { settings?, connections? }');
    return c.issues;
  }
  c.unknownKeys(root, input, ['settings', 'connections']);

  if (input.settings !== undefined && c.check(`${root}.settings`, input.settings, plainObject)) {
    const s = input.settings as Record<string, unknown>;
    c.unknownKeys(`${root}.settings`, s, Object.keys(SETTINGS_SPEC));
    checkOptions(c, `${root}.settings`, s, SETTINGS_SPEC);
  }

  if (input.connections !== undefined && c.check(`${root}.connections`, input.connections, (v) =>
    isPlainObject(v) ? null : "an object of named connections, like { default: { connection: 'redis://127.0.0.1:6379' } }",
  )) {
    const conns = input.connections as Record<string, unknown>;
    const seen = new Map<string, string>();
    for (const [name, entry] of Object.entries(conns)) {
      const path = `${root}.connections.${name}`;
      if (!NAME_RE.test(name)) {
        c.add(path, name, 'a connection name made of letters, digits, "_" and "-", starting with a letter or "_"');
      }
      const lower = name.toLowerCase();
      const twin = seen.get(lower);
      if (twin !== undefined) {
        c.add(path, name, `a name distinct from "${twin}" (connection names are compared case-insensitively; rename one)`);
      } else seen.set(lower, name);
      if (!isPlainObject(entry)) {
        c.add(path, entry, `an object { connection: ... }, e.g. { connection: 'redis://127.0.0.1:6379' }`);
        continue;
      }
      c.unknownKeys(path, entry, Object.keys(ENTRY_SPEC));
      for (const [k, check] of Object.entries(ENTRY_SPEC)) {
        if (check && entry[k] !== undefined) c.check(`${path}.${k}`, entry[k], check);
      }
      if (entry.settings !== undefined && c.check(`${path}.settings`, entry.settings, plainObject)) {
        const s = entry.settings as Record<string, unknown>;
        c.unknownKeys(`${path}.settings`, s, CONNECTION_SETTINGS_OPTION_NAMES);
        if (s.debug !== undefined) c.check(`${path}.settings.debug`, s.debug, boolean);
      }
      if (entry.connection === undefined) {
        c.add(`${path}.connection`, undefined, "a redis:// URL or ioredis options, e.g. connection: 'redis://127.0.0.1:6379'");
      } else {
        checkConnection(c, `${path}.connection`, entry.connection);
      }
    }
  }
  checkLockQuorum(c, input);
  checkNamedConnection(c, input, 'webhookSyncConnection');
  return c.issues;
}

/** The server a connection points at (not its database), to tell whether two votes are one server. */
function serverOf(connection: unknown): string {
  const topology = topologyOf(connection);
  if (typeof connection === 'string' || (isPlainObject(connection) && typeof connection.url === 'string' && topology === 'standalone')) {
    const u = new URL(typeof connection === 'string' ? connection : (connection as { url: string }).url);
    return `${u.hostname}:${u.port || 6379}`;
  }
  const o = connection as Record<string, unknown>;
  if (topology === 'standalone') return o.path ? `unix:${String(o.path)}` : `${(o.host as string | undefined) ?? '127.0.0.1'}:${(o.port as number | undefined) ?? 6379}`;
  return describeEndpoint(topology, connection);
}

/** Ordinal words for the "add a third/fifth connection" hint. */
const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth'];

/**
 * `settings.redlockConnections` must name enabled, distinct, independent connections, and an odd
 * number of them: an even number tolerates no more failed members than one fewer (2 need both, like
 * 1; 4 need 3, like 3) and lets the votes split evenly.
 */
function checkLockQuorum(c: Collector, input: Record<string, unknown>): void {
  const settings = isPlainObject(input.settings) ? input.settings : {};
  const names = settings.redlockConnections;
  if (!Array.isArray(names) || SETTINGS_SPEC.redlockConnections(names) !== null) return;
  const path = `${PLUGIN_ID}.settings.redlockConnections`;
  const conns = isPlainObject(input.connections) && Object.keys(input.connections).length ? input.connections : { default: { connection: DEFAULT_REDIS_URL } };
  const seenEndpoints = new Map<string, string>();
  names.forEach((name: string, i: number) => {
    const entry = (conns as Record<string, unknown>)[name];
    if (names.indexOf(name) !== i) {
      c.add(`${path}[${i}]`, name, 'each connection once (a duplicate would vote twice)');
      return;
    }
    if (!isPlainObject(entry)) {
      c.add(`${path}[${i}]`, name, `the name of a configured connection: ${Object.keys(conns).map((n) => `"${n}"`).join(', ')}`);
      return;
    }
    if (entry.enabled === false) {
      c.add(`${path}[${i}]`, name, `an enabled connection ("${name}" has enabled: false)`);
      return;
    }
    let endpoint = '';
    try {
      endpoint = entry.connection === undefined ? '' : serverOf(entry.connection);
    } catch {
      // an invalid connection is reported on its own path
    }
    const twin = seenEndpoints.get(endpoint);
    if (endpoint && twin !== undefined) {
      c.add(`${path}[${i}]`, name, `independent masters: "${name}" and "${twin}" point at the same server (${endpoint}), so one server would cast two votes`);
    } else if (endpoint) seenEndpoints.set(endpoint, name);
  });
  const n = names.length;
  if (n % 2 === 0 && c.issues.every((issue) => !issue.path.startsWith(path))) {
    const fewer = names.slice(0, n - 1).map((x: string) => `'${x}'`).join(', ');
    c.add(
      path,
      names,
      `an odd number of lock connections (1, 3, 5, ...): ${n} connections tolerate no more failures than ${n - 1} (a majority of ${n} is ${n / 2 + 1}), ` +
        `and their votes can split ${n / 2}-${n / 2}; use [${fewer}] or add a ${ORDINALS[n] ?? `${n + 1}th`} independent master`,
    );
  }
}

/** A setting that names one connection must name a configured, enabled one. */
function checkNamedConnection(c: Collector, input: Record<string, unknown>, key: keyof RedisSettingsInput): void {
  const settings = isPlainObject(input.settings) ? input.settings : {};
  const name = settings[key];
  if (typeof name !== 'string' || name === '') return;
  const conns = isPlainObject(input.connections) && Object.keys(input.connections).length ? input.connections : { default: { connection: DEFAULT_REDIS_URL } };
  const entry = (conns as Record<string, unknown>)[name];
  const path = `${PLUGIN_ID}.settings.${key}`;
  if (!isPlainObject(entry)) c.add(path, name, `the name of a configured connection: ${Object.keys(conns).map((n) => `"${n}"`).join(', ')}`);
  else if (entry.enabled === false) c.add(path, name, `an enabled connection ("${name}" has enabled: false)`);
}

/** Throw one `RedisConfigError` listing every problem, or return nothing when the config is valid. */
export function validateConfig(input: unknown): void {
  const issues = collectConfigIssues(input);
  if (issues.length) throw new RedisConfigError(issues);
}

/**
 * Validate and resolve a plugin config: defaults filled in, the user's objects copied (never
 * mutated), the result deeply frozen. With no `connections` at all, one `default` connection to
 * `redis://127.0.0.1:6379` is used; a default is never merged into a user's own list.
 */
export function resolveConfig(input: RedisPluginConfigInput | unknown): ResolvedRedisConfig {
  validateConfig(input);
  const cfg = (input ?? {}) as RedisPluginConfigInput;
  const settings: ResolvedSettings = { ...DEFAULT_SETTINGS, ...clonePlain(cfg.settings ?? {}) } as ResolvedSettings;
  const given = cfg.connections && Object.keys(cfg.connections).length ? cfg.connections : { default: { connection: DEFAULT_REDIS_URL } };
  const connections: Record<string, ResolvedConnectionConfig> = {};
  for (const [name, entry] of Object.entries(given)) {
    let connection = clonePlain(entry.connection);
    const topology = topologyOf(connection);
    if (topology === 'standalone' && isPlainObject(connection) && (connection as StandaloneConnectionInput).socket) {
      // v2 wrote a Unix socket as { socket: { socketPath } }; ioredis calls it `path`.
      const { socket, ...rest } = connection as StandaloneConnectionInput;
      connection = { path: socket?.socketPath, ...rest } as StandaloneConnectionInput;
    }
    if (topology === 'sentinel' && isPlainObject(connection)) {
      // v2 removed host/port next to sentinels before handing the options to ioredis; so do we.
      const { host: _h, port: _p, ...rest } = connection as unknown as SentinelConnectionInput;
      connection = rest as SentinelConnectionInput;
    }
    connections[name] = {
      name,
      enabled: entry.enabled ?? CONNECTION_DEFAULTS.enabled,
      topology,
      connection,
      readyTimeout: entry.readyTimeout ?? settings.readyTimeout,
      required: entry.required ?? CONNECTION_DEFAULTS.required,
      requestTimeout: entry.requestTimeout ?? CONNECTION_DEFAULTS.requestTimeout,
      debug: entry.settings?.debug ?? settings.debug,
      endpoint: describeEndpoint(topology, connection),
    };
  }
  if (settings.redlockConnections.length === 0) {
    const first = Object.values(connections).find((c) => c.enabled);
    (settings as { redlockConnections: readonly string[] }).redlockConnections = first ? [first.name] : [];
  }
  if (settings.webhookSyncConnection === null) {
    const first = Object.values(connections).find((c) => c.enabled);
    (settings as { webhookSyncConnection: string | null }).webhookSyncConnection = first ? first.name : null;
  }
  return freezePlain({ settings, connections });
}
