/**
 * Where a limiter or store finds its Redis connection, and the counter it runs on it.
 *
 * - In Strapi: a connection name, looked up in the plugin's `connections` service (from the
 *   factory's `{ strapi }`, or `globalThis.strapi` for a store created in config files, on first use).
 * - In a plain Koa app: `{ registry, connection }` (a `createRedisRegistry()` registry), a
 *   `RedisConnection` as `connection`, or a raw ioredis `client`.
 *
 * Every command is bounded like `RedisConnection.run()`: it fails at once when the client is not
 * ready (nothing waits in ioredis' offline queue) and after `requestTimeout` otherwise.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../../core/client.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../core/config.js';
import { runBounded } from '../../core/connection.js';
import { connectionFromStrapi } from '../../core/resolve.js';
import type { SuiteLog } from '../../core/logger.js';
import { hitCommand, unhitCommand, withRateLimitScripts, type ScriptedClient } from './scripts.js';
import { recordFailure, recordSuccess, type FailurePolicy } from './shared.js';

/** What the limiter needs of a connection: `RedisConnection` (from the registry or the service) fits. */
export interface RedisConnectionLike {
  readonly name: string;
  readonly client: RedisClient;
  run<T>(command: (client: RedisClient) => Promise<T>, timeoutMs?: number): Promise<T>;
}

/** What the limiter needs of a registry: `createRedisRegistry()`'s result fits. */
export interface RedisRegistryLike {
  get(name: string, where?: string): RedisConnectionLike;
}

/** The part of a Strapi instance the limiter uses. */
export interface StrapiHost {
  log?: { debug(m: string): void; info(m: string): void; warn(m: string): void; error(m: string): void };
  plugin(name: string): { service(name: string): unknown } | undefined;
}

/** How a limiter or store finds Redis. */
export interface RedisSourceOptions {
  /**
   * The connection's name under `redis.config.connections` (Strapi) or in `registry` (Koa), or a
   * `RedisConnection` object. @default 'default'
   */
  connection?: string | RedisConnectionLike;
  /** Plain Koa: the registry from `createRedisRegistry()` that holds `connection`. */
  registry?: RedisRegistryLike;
  /** Plain Koa: a raw ioredis client (`Redis` or `Cluster`) instead of a registry. */
  client?: RedisClient;
  /**
   * Bound on each Redis call, in ms. @default the connection's `requestTimeout` (1000 ms for `client`)
   */
  requestTimeout?: number;
}

/** A bounded runner over a raw client, with `RedisConnection.run()` semantics. */
export function clientConnection(client: RedisClient, name = 'client', timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): RedisConnectionLike {
  return { name, client, run: <T>(command: (c: RedisClient) => Promise<T>, ms = timeoutMs) => runBounded(name, client, command, ms) };
}


/**
 * Resolve the connection now. `where` names the option for error messages. Throws
 * `UnknownConnectionError` (from the registry/service) or an `Error` saying what to pass.
 */
export function resolveConnection(source: RedisSourceOptions, where: string, strapi?: StrapiHost): RedisConnectionLike {
  const { connection = 'default', registry, client, requestTimeout } = source;
  if (typeof connection === 'object') return connection;
  if (client) return clientConnection(client, connection === 'default' ? 'client' : connection, requestTimeout);
  if (registry) return registry.get(connection, where);
  // The factory's own Strapi first; otherwise the shared lookup through the global strapi.
  const service = strapi?.plugin('redis')?.service('connections') as RedisRegistryLike | undefined;
  if (service && typeof service.get === 'function') return service.get(connection);
  return connectionFromStrapi(connection, where);
}

/** Keys longer than this get their variable part replaced by its SHA-256 (a request field in a key cannot bloat Redis). */
export const MAX_KEY_LENGTH = 256;

/** `prefix + id`, or `prefix + 'sha256:' + hex(id)` when that would be longer than MAX_KEY_LENGTH. */
export function boundKey(prefix: string, id: string): string {
  const key = prefix + id;
  return key.length <= MAX_KEY_LENGTH ? key : `${prefix}sha256:${createHash('sha256').update(id).digest('hex')}`;
}

export interface HitResult {
  /** The counter after this hit. */
  count: number;
  /** Milliseconds until the window resets (> 0). */
  ttlMs: number;
}

/**
 * A fixed-window counter on one connection: one atomic script call per hit. Failures are recorded
 * in the shared outage log (one warning per outage) and rethrown for the caller's policy.
 */
export class WindowCounter {
  readonly policy: FailurePolicy;
  #resolve: () => RedisConnectionLike;
  #conn: RedisConnectionLike | undefined;
  #client: ScriptedClient | undefined;
  #timeoutMs: number | undefined;
  #log: () => SuiteLog;

  constructor(resolve: () => RedisConnectionLike, options: { policy: FailurePolicy; timeoutMs?: number; log: () => SuiteLog }) {
    this.#resolve = resolve;
    this.policy = options.policy;
    this.#timeoutMs = options.timeoutMs;
    this.#log = options.log;
  }

  /** The connection (resolved on first call; a resolution error is thrown as is, every time). */
  get connection(): RedisConnectionLike {
    if (!this.#conn) {
      const conn = this.#resolve();
      this.#client = withRateLimitScripts(conn.client);
      this.#conn = conn;
    }
    return this.#conn;
  }

  hit(key: string, weight: number, intervalMs: number): Promise<HitResult> {
    let conn: RedisConnectionLike;
    try {
      conn = this.connection;
    } catch (err) {
      return Promise.reject(err);
    }
    const client = this.#client!;
    return conn.run(() => hitCommand(client, key, weight, intervalMs), this.#timeoutMs).then(
      (reply) => {
        recordSuccess(conn, conn.name, this.#log());
        return { count: Number(reply[0]), ttlMs: Number(reply[1]) };
      },
      (err: unknown) => {
        recordFailure(conn, conn.name, this.policy, err, this.#log());
        throw err;
      },
    );
  }

  /**
   * Take a hit back, in the window it was counted in (see UNHIT_LUA). Never rejects: a failure is
   * logged at debug level (the outage, if any, is reported by `hit`).
   */
  async unhit(key: string, weight: number, maxTtlMs: number): Promise<void> {
    try {
      const conn = this.connection;
      const client = this.#client!;
      await conn.run(() => unhitCommand(client, key, weight, Math.max(1, Math.ceil(maxTtlMs))), this.#timeoutMs);
    } catch (err) {
      this.#log().debug(`rate limit: could not take back a hit on ${key}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
