/**
 * The Strapi 5 server entry of the plugin (id `redis`), loaded through `strapi-server`.
 *
 * - `config.validator` rejects an invalid config before anything starts (Strapi stops boot).
 * - `register()` opens the connections and waits for them (bounded), so other plugins' `register()`
 *   and every later phase can use `strapi.redis.connections.<name>.client`.
 * - `bootstrap()` registers the admin panel's RBAC actions; `routes`/`controllers` are its admin
 *   API under `/redis/...` (src/admin-api, contract in docs/admin-api.md).
 * - `destroy()` closes every client, so the process exits with no open handles.
 */
import { PLUGIN_ID, validateConfig, type ResolvedRedisConfig } from '../core/config.js';
import type { RedisConnection } from '../core/connection.js';
import { adminRoutes, createAdminController, registerPermissions, startHealthSampler, type HealthSampler } from '../admin-api/index.js';
import { CronGuard } from '../core/cron-guard.js';
import { CronHistory } from '../core/cron-history.js';
import { createCacheService, registerCacheInvalidation } from '../middlewares/cache/invalidation.js';
import { createSuiteLog } from '../core/logger.js';
import { createRedisRegistry, resolveRegistryConfig, type RedisRegistry } from '../core/registry.js';
import { middlewares } from './middlewares.js';
import { createPurgeController, purgeRouter } from './cache-purge.js';
import { setupBootLock, type BootLock } from './boot-lock.js';
import { WebhookSync } from './webhooks.js';
import { createConnectionsService, createCronService, createLocksService, type ConnectionsService, type CronService, type LocksService } from './services.js';
import type { StrapiLike } from './types.js';

const registries = new WeakMap<object, RedisRegistry>();
const guards = new WeakMap<object, CronGuard>();
const bootLocks = new WeakMap<object, BootLock>();
const webhookSyncs = new WeakMap<object, WebhookSync>();
/** Clients made for other code through the services (Socket.IO adapters): closed on destroy. */
const owned = new WeakMap<object, Set<{ close(): Promise<void> }>>();
const samplers = new WeakMap<object, HealthSampler>();

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
  // Held around Strapi's bootstrap (schema sync, migrations, seeding), which runs after every register().
  const bootLock = setupBootLock(strapi, {
    settings: config.settings,
    locks: () => registry.locks,
    connection: (name) => registry.get(name, 'settings.redlockConnections'),
    log: createSuiteLog(strapi.log, 'boot-lock', config.settings.debug),
  });
  if (bootLock) bootLocks.set(strapi, bootLock);
  // Webhook changes made through one instance reach every instance's runner.
  const { webhookSync, webhookSyncConnection, webhookSyncChannel } = config.settings;
  if (webhookSync && webhookSyncConnection !== null) {
    const sync = new WebhookSync({
      connection: registry.get(webhookSyncConnection, 'settings.webhookSyncConnection'),
      channel: webhookSyncChannel,
      log: createSuiteLog(strapi.log, 'webhooks', config.settings.debug),
    });
    const host = strapi as unknown as { get?(name: string): unknown };
    if (typeof host.get === 'function' && sync.install((name) => host.get!(name))) webhookSyncs.set(strapi, sync);
  }
  // Purges plugin::redis.cache entries after document-service writes (a no-op without cache rules).
  registerCacheInvalidation(strapi);

  if (config.settings.enableRedlock) {
    // Installed in register(), before Strapi, any plugin or config/cron-tasks adds a task.
    const log = createSuiteLog(strapi.log, 'cron', config.settings.debug);
    const locks = registry.locks;
    // Runs are recorded on the first quorum connection, for the admin panel of every instance.
    const historyConnection = registry.get(locks.quorum[0]!, 'settings.redlockConnections');
    for (const name of locks.quorum) registry.get(name).markUsedBy('cron');
    const guard = new CronGuard({
      locks,
      log,
      lockTTL: config.settings.lockTTL,
      history: new CronHistory({ connection: () => historyConnection, log }),
    });
    const cron = strapi.cron;
    if (!cron) throw new Error('settings.enableRedlock is on but this Strapi has no cron service (strapi.cron) to guard.');
    if ((cron.jobs?.length ?? 0) > 0) {
      strapi.log.warn(`[redis] ${cron.jobs!.length} cron task(s) were added before the redis plugin registered; they run unguarded.`);
    }
    guard.install(cron);
    guards.set(strapi, guard);
  }
}

async function destroy({ strapi }: { strapi: StrapiLike }): Promise<void> {
  bootLocks.get(strapi)?.release('at shutdown');
  // Strapi destroys plugins before it stops cron: stop taking ticks and let guarded runs finish
  // (bounded) while their locks can still be extended, then close the connections.
  await guards.get(strapi)?.close();
  await webhookSyncs.get(strapi)?.close();
  await Promise.allSettled([...(owned.get(strapi) ?? [])].map((c) => c.close()));
  samplers.get(strapi)?.stop();
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
  async bootstrap({ strapi }: { strapi: StrapiLike }) {
    webhookSyncs.get(strapi)?.start();
    await registerPermissions(strapi);
    const sampler = startHealthSampler(registryOf(strapi), strapi.log);
    if (sampler) samplers.set(strapi, sampler);
    // Response cache warm-up (the `warm` paths): once the server listens, not blocking the boot.
    const server = (strapi as { server?: { httpServer?: { listening?: boolean; once(event: string, cb: () => void): unknown } } }).server?.httpServer;
    const warmUp = () =>
      void createCacheService(strapi)
        .warm()
        .catch(() => undefined);
    if (server?.listening) warmUp();
    else server?.once('listening', warmUp);
  },
  destroy,
  middlewares,
  routes: { admin: adminRoutes, 'content-api': purgeRouter },
  controllers: {
    'cache-purge': createPurgeController,
    admin: ({ strapi }: { strapi: StrapiLike }) =>
      createAdminController({
        registry: () => registryOf(strapi),
        guard: () => guards.get(strapi),
        cacheHost: strapi,
        log: strapi.log,
        health: () => samplers.get(strapi),
      }),
  },
  services: {
    connections: ({ strapi }: { strapi: StrapiLike }): ConnectionsService =>
      createConnectionsService(
        () => registryOf(strapi),
        (closable) => {
          let set = owned.get(strapi);
          if (!set) owned.set(strapi, (set = new Set()));
          set.add(closable);
        },
      ),
    locks: ({ strapi }: { strapi: StrapiLike }): LocksService => createLocksService(() => registryOf(strapi).locks),
    cron: ({ strapi }: { strapi: StrapiLike }): CronService => createCronService(() => guards.get(strapi)),
    cache: ({ strapi }: { strapi: StrapiLike }) => createCacheService(strapi),
  },
};

export default plugin;
export type { ConnectionsService, CronService, LocksService, StrapiLike };
