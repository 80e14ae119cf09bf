/**
 * The one connection lookup of the suite: every feature (rate limiter and its store, session
 * store, response cache, Apollo/Keyv cache, Socket.IO adapter) finds its Redis here.
 *
 * - In Strapi: a connection name, looked up in the plugin's `connections` service (the factory's
 *   own `strapi`, else the global `strapi`). Parts created in config files (config/middlewares.ts,
 *   config/plugins.ts, config/admin.ts) are built before any connection exists, so they resolve
 *   on first use (`lazyConnection`).
 * - In a plain Koa app: `{ registry, connection }` (a `createRedisRegistry()` registry), a
 *   connection object as `connection`, or a raw ioredis `client`.
 *
 * Every command is bounded like `RedisConnection.run()`: it fails at once when the client is not
 * ready (nothing waits in ioredis' offline queue) and after the request bound otherwise.
 */
import type { RedisClient } from './client.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, PLUGIN_ID } from './config.js';
import { runBounded } from './connection.js';
import type { CountedConnection, CounterFeature, Counts } from './counters.js';
import { markUsedBy, type Feature } from './usage.js';

/** What a feature needs of a connection: a name, the client, and bounded commands. `RedisConnection` fits. */
export interface BoundedConnection extends CountedConnection {
  readonly name: string;
  readonly client: RedisClient;
  /** The bound `run()` applies when given none, in ms (a `RedisConnection` has it as `config.requestTimeout`). */
  readonly requestTimeout?: number;
  run<T>(command: (client: RedisClient) => Promise<T>, timeoutMs?: number): Promise<T>;
}

/** What a feature needs of a registry: `createRedisRegistry()`'s result and the `connections` service fit. */
export interface ConnectionRegistry {
  get(name: string, where?: string): BoundedConnection;
}

/** Where a feature gets its Redis from. */
export interface ConnectionSource {
  /** A connection name under the plugin config's `connections` (Strapi) or in `registry` (Koa). @default 'default' */
  connection?: string;
  /** Plain Koa: the registry from `createRedisRegistry()` that holds `connection`. */
  registry?: ConnectionRegistry;
  /** Plain Koa: a raw ioredis client (`Redis` or `Cluster`) instead of a registry. */
  client?: RedisClient;
}

/** A source whose `connection` may also be a connection object (the rate limiter accepts one). */
export type SourceWithConnection = Omit<ConnectionSource, 'connection'> & { connection?: string | BoundedConnection };

/** How a lookup is done: the feature to record on the connection, the factory's own Strapi, a raw client's bound. */
export interface ResolveOptions {
  feature?: Feature;
  strapi?: StrapiConnections;
  requestTimeout?: number;
  /** The part's counters, registered in the connection's registry once it is found (src/core/counters.ts). */
  counted?: { feature: CounterFeature; read(): Counts };
}

/** The part of a Strapi instance the lookup uses. */
export interface StrapiConnections {
  plugin?(name: string): { service?(name: string): unknown } | undefined;
  redis?: { connections?: Record<string, BoundedConnection | undefined> };
}

/** A bounded connection over a raw client, with `RedisConnection.run()` semantics. It belongs to no registry. */
export function clientConnection(client: RedisClient, name = 'client', timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): BoundedConnection {
  return {
    name,
    client,
    requestTimeout: timeoutMs,
    run: <T>(command: (c: RedisClient) => Promise<T>, ms = timeoutMs) => runBounded(name, client, command, ms, timeoutMs),
  };
}

/** The bound `run()` applies when given none: the connection's own (`requestTimeout`, or a `RedisConnection`'s config), else the default. */
export function requestTimeoutOf(conn: BoundedConnection): number {
  const connection = conn as BoundedConnection & { config?: { requestTimeout?: number } };
  return connection.requestTimeout ?? connection.config?.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS;
}

const globalStrapi = (): StrapiConnections | undefined => (globalThis as { strapi?: StrapiConnections }).strapi;

/**
 * The redis plugin's connection `name` in this Strapi process (`strapi`, else the global one).
 * Throws a clear error naming `where` when this is not a Strapi process, the plugin has not
 * registered, or the name is unknown (the service's error lists the configured names).
 */
export function connectionFromStrapi(name: string, where: string, strapi: StrapiConnections | undefined = globalStrapi()): BoundedConnection {
  if (!strapi) {
    throw new Error(
      `${where}: no Redis to use for connection "${name}": this is not a Strapi process (no global strapi). ` +
        `Outside Strapi pass { client } (an ioredis client) or { registry }: pass { registry: createRedisRegistry(...), connection: '${name}' } or { client: <ioredis client> }.`,
    );
  }
  const service = strapi.plugin?.(PLUGIN_ID)?.service?.('connections') as ConnectionRegistry | undefined;
  if (service && typeof service.get === 'function') return service.get(name, where);
  const direct = strapi.redis?.connections?.[name];
  if (direct) return direct;
  throw new Error(
    `${where}: the "${PLUGIN_ID}" plugin is not registered yet, so connection "${name}" does not exist yet. ` +
      `Enable strapi-plugin-redis-suite (plugin id "${PLUGIN_ID}"); its connections exist from its register() on.`,
  );
}

/** The name a source's connection will have (for log lines written before it is resolved). */
export function sourceName(source: SourceWithConnection): string {
  const { connection = 'default' } = source;
  if (typeof connection === 'object') return connection.name;
  return source.client && connection === 'default' ? 'client' : connection;
}

/**
 * Resolve the connection now. `where` names the option for error messages; `feature` is recorded
 * on the connection (the admin panel lists it). `requestTimeout` applies to a raw `client` (its
 * default bound). Throws `UnknownConnectionError` (from the registry or the service) or an
 * `Error` saying what to pass.
 */
export function resolveConnection(source: SourceWithConnection, where: string, options: ResolveOptions = {}): BoundedConnection {
  const { connection = 'default', registry, client } = source;
  let found: BoundedConnection;
  if (typeof connection === 'object') found = connection;
  else if (client) found = clientConnection(client, sourceName(source), options.requestTimeout);
  else if (registry) found = registry.get(connection, where);
  else found = connectionFromStrapi(connection, where, options.strapi ?? globalStrapi());
  if (options.feature) markUsedBy(found, options.feature);
  if (options.counted) found.counters?.register(options.counted.feature, options.counted.read);
  return found;
}

/**
 * `resolveConnection` on first call, then cached. It throws the same errors while no connection
 * can be found (and tries again on the next call).
 */
export function lazyConnection(source: SourceWithConnection, where: string, options: ResolveOptions | Feature = {}): () => BoundedConnection {
  const opts = typeof options === 'string' ? { feature: options } : options;
  let resolved: BoundedConnection | undefined;
  return () => (resolved ??= resolveConnection(source, where, opts));
}
