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
import { RedisConfigError, RedisTimeoutError, RedisUnavailableError } from '../core/errors.js';
import { consoleLogger, createSuiteLog, type RedisLogger, type SuiteLog } from '../core/logger.js';
import type { CounterFeature, Counts } from '../core/counters.js';
import { resolveConnection } from '../core/resolve.js';
import { always, custom, int, options, parseOptions, str, type z } from '../core/schema.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Where a cache finds its Redis (shared by the Keyv store's, the Keyv's and the Apollo cache's schema). */
export const targetShape = {
  /**
   * Name of a connection configured under `redis.config.connections` (or in the `registry`).
   * Looked up on first use. @default 'default'
   */
  connection: str('the name of a connection under redis.config.connections (a non-empty string)', true).optional(),
  /** A registry from `createRedisRegistry` (plain apps); `connection` names one of its connections. */
  registry: custom<{ get(name: string, where?: string): RedisConnection }>((r) =>
    isObject(r) && typeof r.get === 'function' ? null : 'a registry from createRedisRegistry()',
  ).optional(),
  /** A raw ioredis client (`Redis` or `Cluster`) that you own: the cache never closes it. */
  client: custom<RedisClient>((c) =>
    isObject(c) && typeof (c as Partial<Redis>).get === 'function' && typeof (c as Partial<Redis>).status === 'string'
      ? null
      : 'an ioredis Redis or Cluster client',
  ).optional(),
  /**
   * Bound on each Redis command of this cache, in ms: a slower read is a miss. Overrides the
   * connection's own `requestTimeout` for this cache only. Default: the connection's
   * `requestTimeout` (`DEFAULT_REQUEST_TIMEOUT_MS`, 200, for a raw `client`).
   */
  requestTimeout: int(1, Number.MAX_SAFE_INTEGER, 'a positive integer number of milliseconds').optional(),
  /** Where the one line per outage goes. Default: Strapi's `strapi.log` inside Strapi, otherwise `console`. */
  logger: custom<RedisLogger>((l) =>
    isObject(l) && typeof l.warn === 'function' ? null : 'an object with debug/info/warn/error methods (console, strapi.log)',
  ).optional(),
};

/** Where a cache finds its Redis. Give one of `client`, `registry` (+ `connection`), or `connection` alone inside Strapi. */
export type RedisTargetOptions = z.input<z.ZodObject<typeof targetShape>>;

/**
 * The schema of a cache's options: the target's and `shape`'s keys (other keys are let through
 * unchecked, as before), `client` and `registry` not both.
 */
export function targetOptions<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  const expected = 'an options object, e.g. { connection: "cache", namespace: "app" }';
  return always(options({ ...targetShape, ...shape }, { open: true, expected }), (raw, report) => {
    if (isObject(raw) && raw.client !== undefined && raw.registry !== undefined) {
      report(['registry'], raw.registry, 'one of client or registry, not both');
    }
  });
}

/** Parse a cache's options (`where`: `createKeyvStore()`...), or throw `RedisConfigError` naming every problem. */
export function parseTargetOptions<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  return parseOptions(schema, input, { root: where, error: (issues) => new RedisConfigError(issues, `options of ${where}`) });
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
            : err.unanswered
              ? `Redis ${label} has not answered a command sent ${err.unanswered.forMs} ms ago; the command was not sent: commands fail at once until the server answers or the client reconnects.`
              : `Redis ${label} is not ready (state: ${client.status}); the command was not sent.`;
        }
        if (err instanceof RedisTimeoutError) err.message = `Redis ${label} did not answer within ${timeout} ms (the cache's requestTimeout option).`;
        throw err;
      }),
  };
}
