/**
 * Lazy connection lookup for parts that are created in config files (config/middlewares.ts,
 * config/plugins.ts, config/admin.ts), which Strapi loads before any connection exists: the named
 * connection is found on first use. Outside Strapi, pass a registry or a raw ioredis client.
 */
import type { RedisClient } from './client.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, PLUGIN_ID } from './config.js';
import { runBounded } from './connection.js';
import type { RedisRegistry } from './registry.js';

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
  plugin?: (name: string) => { service(name: string): { get(name: string): BoundedConnection } } | undefined;
}

/**
 * A function returning the connection, resolved on its first call and then cached. It throws a
 * clear error naming `where` when no connection can be found.
 */
export function lazyConnection(source: ConnectionSource, where: string): () => BoundedConnection {
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
      const strapi = (globalThis as { strapi?: StrapiGlobal }).strapi;
      const plugin = strapi?.plugin?.(PLUGIN_ID);
      if (!plugin) {
        throw new Error(
          `${where}: no Redis connection "${name}" to use yet. Inside Strapi the "${PLUGIN_ID}" plugin must be enabled ` +
            `(its connections exist from its register() on); outside Strapi pass { registry } (createRedisRegistry) or { client }.`,
        );
      }
      resolved = plugin.service('connections').get(name);
    }
    return resolved;
  };
}
