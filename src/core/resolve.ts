/**
 * Lazy connection lookup for parts that are created in config files (config/middlewares.ts,
 * config/plugins.ts, config/admin.ts), which Strapi loads before any connection exists: the named
 * connection is found on first use. Outside Strapi, pass a registry or a raw ioredis client.
 */
import type { RedisClient } from './client.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, PLUGIN_ID } from './config.js';
import { runBounded } from './connection.js';
import type { RedisRegistry } from './registry.js';
import { markUsedBy, type Feature } from './usage.js';

/** Where a feature gets its Redis from. */
export interface ConnectionSource {
  /** A connection name from the plugin config (or the registry). @default 'default' */
  connection?: string;
  /** Plain Koa: the registry from `createRedisRegistry`. */
  registry?: RedisRegistry;
  /** Plain Koa: a raw ioredis client (Redis or Cluster). */
  client?: RedisClient;
}

/** What a feature needs of a connection: a name, the client, and bounded commands. */
export interface BoundedConnection {
  readonly name: string;
  readonly client: RedisClient;
  run<T>(command: (client: RedisClient) => Promise<T>, timeoutMs?: number): Promise<T>;
}

interface StrapiGlobal {
  plugin?(name: string): { service?(name: string): { get?(name: string): BoundedConnection } | undefined } | undefined;
  redis?: { connections?: Record<string, BoundedConnection | undefined> };
}

/**
 * The redis plugin's connection `name` in this Strapi process (through the global `strapi`).
 * Throws a clear error naming `where` when this is not a Strapi process, the plugin has not
 * registered, or the name is unknown (the service's error lists the configured names).
 */
export function connectionFromStrapi(name: string, where: string): BoundedConnection {
  const strapi = (globalThis as { strapi?: StrapiGlobal }).strapi;
  if (!strapi) {
    throw new Error(
      `${where}: no Redis to use for connection "${name}": this is not a Strapi process (no global strapi). ` +
        `Outside Strapi pass { client } (an ioredis client) or { registry }: pass { registry: createRedisRegistry(...), connection: '${name}' } or { client: <ioredis client> }.`,
    );
  }
  const service = strapi.plugin?.(PLUGIN_ID)?.service?.('connections');
  if (service?.get) return service.get(name);
  const direct = strapi.redis?.connections?.[name];
  if (direct) return direct;
  throw new Error(
    `${where}: the "${PLUGIN_ID}" plugin is not registered yet, so connection "${name}" does not exist yet. ` +
      `Enable strapi-plugin-redis-suite (plugin id "${PLUGIN_ID}"); its connections exist from its register() on.`,
  );
}

/**
 * A function returning the connection, resolved on its first call and then cached. It throws a
 * clear error naming `where` while no connection can be found (and tries again on the next call).
 * `feature` is recorded on the connection when it is resolved (the admin panel lists it).
 */
export function lazyConnection(source: ConnectionSource, where: string, feature?: Feature): () => BoundedConnection {
  let resolved: BoundedConnection | undefined;
  const name = source.connection ?? 'default';
  return () => {
    if (resolved) return resolved;
    if (source.client) {
      const client = source.client;
      resolved = { name, client, run: (cmd, t = DEFAULT_REQUEST_TIMEOUT_MS) => runBounded(name, client, cmd, t) };
    } else if (source.registry) {
      resolved = source.registry.get(name, where);
    } else {
      resolved = connectionFromStrapi(name, where);
    }
    if (feature) markUsedBy(resolved, feature);
    return resolved;
  };
}
