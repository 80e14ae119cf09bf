import type { Keyv } from 'keyv';
import type { RedisClient } from '../core/client.js';
import { featureCounters, type FeatureCounters } from '../counters.js';
import { keyvOnRegistry, type ConnectionKeyvOptions } from '../graphql/index.js';
import type { RedisConnection } from '../core/connection.js';
import type { CronGuard, CronGuardStats, GuardedTaskInfo } from '../core/cron-guard.js';
import type { HeldLock, LockContext, LockOptions, LockService } from '../core/locks.js';
import type { ReadyReport, RedisRegistry, RedisStatus } from '../core/registry.js';
import { buildSocketIoAdapter, type SocketIoAdapter, type SocketIoAdapterOptions } from '../socketio/index.js';

/** `strapi.plugin('redis').service('connections')`. */
export interface ConnectionsService {
  /** A connection by name; throws `UnknownConnectionError` listing the known names. */
  get(name: string): RedisConnection;
  /** The ioredis client of a connection. */
  client(name: string): RedisClient;
  has(name: string): boolean;
  /** Names of the enabled connections. */
  list(): string[];
  /** Per connection: state, topology, PING latency, INFO basics. Never throws. */
  status(): Promise<RedisStatus>;
  /** Wait (bounded) for every connection to be ready. */
  waitUntilReady(): Promise<ReadyReport>;
  /** The registry behind the service (the same API as `createRedisRegistry`). */
  registry(): RedisRegistry;
  /**
   * This instance's counters of the rate limiters and stores, session stores and Apollo caches on
   * these connections, summed per feature (null: nothing of that feature). The response cache's
   * are `service('cache').stats()`, the cron guard's `service('cron').stats()`.
   */
  counters(): FeatureCounters;
  /** A Keyv on connection `name`: keys `<namespace>:<key>`, PX expiry capped by maxTtl, bounded commands. */
  keyv<Value = unknown>(name: string, options?: ConnectionKeyvOptions): Keyv<Value>;
  /**
   * An `@socket.io/redis-adapter` on connection `name` (classic; sharded on a Cluster), for
   * `io.adapter(...)`. Its two duplicated connections are closed by the plugin on Strapi's destroy.
   */
  socketIoAdapter(name: string, options?: Omit<SocketIoAdapterOptions, 'connection' | 'registry' | 'client'>): SocketIoAdapter;
}

export function createConnectionsService(
  registry: () => RedisRegistry,
  own: (closable: { close(): Promise<void> }) => void = () => undefined,
): ConnectionsService {
  return {
    get: (name) => registry().get(name),
    client: (name) => registry().client(name),
    has: (name) => registry().has(name),
    list: () => registry().names(),
    status: () => registry().status(),
    waitUntilReady: () => registry().waitUntilReady(),
    registry,
    counters: () => featureCounters(registry()),
    keyv: <Value = unknown>(name: string, options?: ConnectionKeyvOptions) => keyvOnRegistry<Value>(registry, name, options),
    socketIoAdapter: (name, options = {}) => {
      const conn = registry().get(name, 'socketIoAdapter(name)');
      const { connection: _c, registry: _r, client: _cl, ...rest } = options as SocketIoAdapterOptions;
      const adapter = buildSocketIoAdapter(conn.client, conn.name, rest);
      own(adapter);
      return adapter;
    },
  };
}

/** `strapi.plugin('redis').service('locks')`: distributed locks on the `redlockConnections` quorum. */
export interface LocksService {
  /** Acquire (bounded); release it yourself. */
  acquire(resources: string | readonly string[], options?: LockOptions): Promise<HeldLock>;
  /** Run `fn` under the lock: acquired, extended while it runs, released after. */
  using<T>(resources: string | readonly string[], fn: (ctx: LockContext) => Promise<T> | T, options?: LockOptions): Promise<T>;
  /** Names of the quorum connections. */
  quorum(): string[];
}

export function createLocksService(locks: () => LockService): LocksService {
  return {
    acquire: (resources, options) => locks().acquire(resources, options),
    using: (resources, fn, options) => locks().using(resources, fn, options),
    quorum: () => locks().quorum,
  };
}

/** `strapi.plugin('redis').service('cron')`: what the cron guard does (empty when `enableRedlock` is off). */
export interface CronService {
  /** True when `settings.enableRedlock` installed the guard. */
  enabled(): boolean;
  /** Every task added since the guard was installed, with its last run on this instance. */
  tasks(): GuardedTaskInfo[];
  /** Counters on this instance. */
  stats(): CronGuardStats | null;
}

export function createCronService(guard: () => CronGuard | undefined): CronService {
  return {
    enabled: () => guard() !== undefined,
    tasks: () => guard()?.tasks() ?? [],
    stats: () => (guard() ? { ...guard()!.stats } : null),
  };
}
