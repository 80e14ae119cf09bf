/**
 * Which Redis a cache talks to, resolved on first use, and the bound on every command it sends.
 *
 * A cache is created in `config/plugins.ts`, before any connection exists, so it only records
 * what it was given and looks the connection up the first time it needs it:
 *
 * - `{ client }`: a raw ioredis client (plain Apollo / Node apps);
 * - `{ registry, connection }`: a registry from `createRedisRegistry`;
 * - `{ connection }` alone: inside Strapi, the redis plugin's connection of that name, found
 *   through the global `strapi` (`strapi.plugin('redis').service('connections').get(name)`).
 *
 * The lookup itself is the suite's one (src/core/resolve.ts); this file adds the caches' option
 * checks and the wording of their bounds.
 *
 * Every command goes through `RedisConnection.run()` (or the same bound for a raw client): it
 * fails at once when the client is not ready, so nothing waits in ioredis' offline queue, and
 * rejects after the timeout.
 */
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../core/client.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../core/config.js';
import { runBounded, type RedisConnection } from '../core/connection.js';
import { RedisConfigError, RedisTimeoutError, RedisUnavailableError, type ConfigIssue } from '../core/errors.js';
import { consoleLogger, createSuiteLog, type RedisLogger, type SuiteLog } from '../core/logger.js';
import { describeValue } from '../core/redact.js';
import type { CounterFeature, Counts } from '../core/counters.js';
import { resolveConnection } from '../core/resolve.js';

/** Where a cache finds its Redis. Give one of `client`, `registry` (+ `connection`), or `connection` alone inside Strapi. */
export interface RedisTargetOptions {
  /**
   * Name of a connection configured under `redis.config.connections` (or in the `registry`).
   * Looked up on first use. @default 'default'
   */
  connection?: string;
  /** A registry from `createRedisRegistry` (plain apps); `connection` names one of its connections. */
  registry?: { get(name: string, where?: string): RedisConnection };
  /** A raw ioredis client (`Redis` or `Cluster`) that you own: the cache never closes it. */
  client?: RedisClient;
  /**
   * Bound on each Redis command of this cache, in ms: a slower read is a miss. Overrides the
   * connection's own `requestTimeout` for this cache only. @default the connection's
   * `requestTimeout` (`DEFAULT_REQUEST_TIMEOUT_MS`, 250, for a raw `client`)
   */
  requestTimeout?: number;
  /** Where the one line per outage goes. @default Strapi's `strapi.log` inside Strapi, otherwise `console` */
  logger?: RedisLogger;
}

/** A resolved target: the client, whether it is a Cluster, and a bounded way to run commands on it. */
export interface BoundRedis {
  /** `connection "cache"` or `ioredis client`, for log lines. */
  readonly label: string;
  readonly client: RedisClient;
  readonly isCluster: boolean;
  run<T>(command: (client: RedisClient) => Promise<T>): Promise<T>;
}

const strapiGlobal = (): { log?: RedisLogger } | undefined => (globalThis as { strapi?: { log?: RedisLogger } }).strapi;

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** Check the target part of a factory's options; push one issue per problem. */
export function collectTargetIssues(options: RedisTargetOptions, where: string, issues: ConfigIssue[]): void {
  const { connection, registry, client, requestTimeout, logger } = options;
  if (connection !== undefined && (typeof connection !== 'string' || connection.length === 0)) {
    issues.push({ path: `${where}.connection`, got: describeValue(connection), expected: 'the name of a connection under redis.config.connections (a non-empty string)' });
  }
  if (client !== undefined) {
    const c = client as Partial<Redis> | null;
    if (typeof c !== 'object' || c === null || typeof c.get !== 'function' || typeof c.status !== 'string') {
      const got = typeof c === 'object' && c !== null ? 'an object without get() and status' : describeValue(client);
      issues.push({ path: `${where}.client`, got, expected: 'an ioredis Redis or Cluster client' });
    }
    if (registry !== undefined) issues.push({ path: `${where}.registry`, got: 'a registry next to client', expected: 'one of client or registry, not both' });
  }
  if (registry !== undefined && (typeof registry !== 'object' || registry === null || typeof registry.get !== 'function')) {
    issues.push({ path: `${where}.registry`, got: describeValue(registry), expected: 'a registry from createRedisRegistry()' });
  }
  if (requestTimeout !== undefined && !isPositiveInt(requestTimeout)) {
    issues.push({ path: `${where}.requestTimeout`, got: describeValue(requestTimeout), expected: 'a positive integer number of milliseconds' });
  }
  if (logger !== undefined && (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function')) {
    issues.push({ path: `${where}.logger`, got: describeValue(logger), expected: 'an object with debug/info/warn/error methods (console, strapi.log)' });
  }
}

export function throwIfIssues(issues: ConfigIssue[]): void {
  if (issues.length > 0) throw new RedisConfigError(issues);
}

/**
 * A target resolved on first use. `resolve()` throws while it cannot be resolved (the redis plugin
 * has not registered yet, an unknown connection name); it is tried again on the next call.
 */
export class LazyRedis {
  readonly #options: RedisTargetOptions;
  readonly #where: string;
  #bound: BoundRedis | undefined;
  #log: SuiteLog | undefined;
  readonly #scope: string;
  readonly #counted: { feature: CounterFeature; read(): Counts } | undefined;

  /** `counted`: the cache's counters, registered in its connection's registry once it is found. */
  constructor(options: RedisTargetOptions, where: string, scope: string, counted?: { feature: CounterFeature; read(): Counts }) {
    this.#options = options;
    this.#where = where;
    this.#scope = scope;
    this.#counted = counted;
  }

  /** The connection name this target uses (meaningless for a raw client). */
  get connectionName(): string {
    return this.#options.connection ?? 'default';
  }

  /** Has the target been resolved (first use happened)? */
  get resolved(): BoundRedis | undefined {
    return this.#bound;
  }

  /** The logger: the `logger` option, else Strapi's, else console; created on first use. */
  get log(): SuiteLog {
    this.#log ??= createSuiteLog(this.#options.logger ?? strapiGlobal()?.log ?? consoleLogger, this.#scope);
    return this.#log;
  }

  resolve(): BoundRedis {
    if (this.#bound) return this.#bound;
    const { client, requestTimeout: timeout } = this.#options;
    // the suite's one lookup (src/core/resolve.ts); the bound and its wording are the cache's own
    const connection = resolveConnection(this.#options, this.#where, this.#counted ? { feature: 'apollo', counted: this.#counted } : { feature: 'apollo' });
    this.#bound = client ? boundClient(client, timeout ?? DEFAULT_REQUEST_TIMEOUT_MS) : boundConnection(connection as RedisConnection, timeout);
    return this.#bound;
  }
}

function boundConnection(connection: RedisConnection, timeout: number | undefined): BoundRedis {
  const label = `connection "${connection.name}"`;
  if (timeout === undefined) {
    return { label, client: connection.client, isCluster: connection.isCluster, run: (command) => connection.run(command) };
  }
  return {
    label,
    client: connection.client,
    isCluster: connection.isCluster,
    run: (command) =>
      connection.run(command, timeout).catch((err: unknown) => {
        // run() names the connection's requestTimeout; here the cache's own `timeout` set the bound.
        if (err instanceof RedisTimeoutError) err.message = `Redis ${label} did not answer within ${timeout} ms (the cache's requestTimeout option).`;
        throw err;
      }),
  };
}

/** The same bound as `RedisConnection.run()`, for a raw ioredis client. */
function boundClient(client: RedisClient, timeout: number): BoundRedis {
  const label = 'ioredis client';
  return {
    label,
    client,
    isCluster: (client as Cluster).isCluster === true,
    run: <T>(command: (client: RedisClient) => Promise<T>): Promise<T> =>
      runBounded(label, client, command, timeout).catch((err: unknown) => {
        if (err instanceof RedisUnavailableError) {
          err.message = err.inFlight
            ? `Redis ${label} closed while the command was in flight (state: ${err.state}); its outcome is unknown: ioredis may resend it after reconnecting.`
            : `Redis ${label} is not ready (state: ${client.status}); the command was not sent.`;
        }
        if (err instanceof RedisTimeoutError) err.message = `Redis ${label} did not answer within ${timeout} ms (the cache's requestTimeout option).`;
        throw err;
      }),
  };
}
