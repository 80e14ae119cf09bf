/**
 * The Strapi 5 server entry of the plugin (id `redis`), loaded through `strapi-server`.
 *
 * - `config.validator` rejects an invalid config before anything starts (Strapi stops boot).
 * - `register()` opens the connections and waits for them (bounded), so other plugins' `register()`
 *   and every later phase can use `strapi.redis.connections.<name>.client`.
 * - `destroy()` closes every client, so the process exits with no open handles.
 */
import { PLUGIN_ID, validateConfig, type ResolvedRedisConfig } from '../core/config.js';
import type { RedisConnection } from '../core/connection.js';
import { createRedisRegistry, resolveRegistryConfig, type RedisRegistry } from '../core/registry.js';
import { middlewares } from './middlewares.js';
import { createConnectionsService, type ConnectionsService } from './services.js';
import type { StrapiLike } from './types.js';

const registries = new WeakMap<object, RedisRegistry>();

/** The registry of a Strapi instance (after the plugin's `register()`). */
export function registryOf(strapi: StrapiLike): RedisRegistry {
  const registry = registries.get(strapi);
  if (!registry) {
    throw new Error(
      `The redis plugin has not registered yet: its connections exist from its register() phase on. ` +
        `Use them from bootstrap(), or from a register() of a plugin loaded after "${PLUGIN_ID}".`,
    );
  }
  return registry;
}

async function register({ strapi }: { strapi: StrapiLike }): Promise<void> {
  const config: ResolvedRedisConfig = resolveRegistryConfig(strapi.config.get(`plugin::${PLUGIN_ID}`, {}));
  const registry = createRedisRegistry(config, { logger: strapi.log });
  registries.set(strapi, registry);
  strapi.redis = {
    config,
    connections: registry.connections as Record<string, RedisConnection>,
  };
  await registry.waitUntilReady();
}

async function destroy({ strapi }: { strapi: StrapiLike }): Promise<void> {
  const registry = registries.get(strapi);
  if (!registry) return;
  await registry.close();
}

const plugin = {
  config: {
    default: {},
    validator: (config: unknown) => validateConfig(config),
  },
  register,
  bootstrap() {},
  destroy,
  middlewares,
  services: {
    connections: ({ strapi }: { strapi: StrapiLike }): ConnectionsService => createConnectionsService(() => registryOf(strapi)),
  },
};

export default plugin;
export type { ConnectionsService, StrapiLike };
