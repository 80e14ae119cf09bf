/**
 * The public API of strapi-plugin-redis-suite. The Strapi plugin entry is `strapi-plugin-redis-suite/strapi-server`,
 * which is `strapiServer` below.
 */
export { default as strapiServer } from './strapi/plugin.js';
export { createRedisRegistry } from './core/registry.js';
export type { RedisRegistry, RedisRegistryOptions, RedisStatus, ReadyReport } from './core/registry.js';
export { RedisConnection } from './core/connection.js';
export type { ConnectionStatus, NodeStatus, ReadyResult } from './core/connection.js';
export type { RedisClient } from './core/client.js';
export { validateConfig, DEFAULT_REDIS_URL, DEFAULT_REQUEST_TIMEOUT_MS, PLUGIN_ID } from './core/config.js';
export type {
  RedisPluginConfigInput,
  RedisSettingsInput,
  ConnectionEntryInput,
  ConnectionInput,
  StandaloneConnectionInput,
  ClusterConnectionInput,
  ClusterNodeInput,
  SentinelConnectionInput,
  ResolvedRedisConfig,
  ResolvedSettings,
  ResolvedConnectionConfig,
  Topology,
} from './core/config.js';
export {
  RedisSuiteConfigError,
  RedisConfigError,
  UnknownConnectionError,
  RedisUnavailableError,
  RedisTimeoutError,
  RedisNotReadyError,
} from './core/errors.js';
export type { ConfigIssue } from './core/errors.js';
export {
  LockService,
  LockBusyError,
  LockLostError,
  LockTimeoutError,
  LockUnavailableError,
  LOCK_KEY_PREFIX,
  FENCE_TTL_MS,
  LOCK_COMMAND_TIMEOUT_MS,
} from './core/locks.js';
export type { HeldLock, LockContext, LockOptions, LockStats, LockTimeoutReason } from './core/locks.js';
export { BootLockTimeoutError, BootLockUnavailableError } from './strapi/boot-lock.js';
export type { BootLockOnError } from './strapi/boot-lock.js';
export { CronGuard } from './core/cron-guard.js';
export type { CronGuardContext, CronGuardStats, GuardedTaskInfo, GuardedTaskOptions } from './core/cron-guard.js';
export type { ServerInfo } from './core/info.js';
export type { RedisLogger } from './core/logger.js';
export type { ConnectionsService, CronService, LocksService } from './strapi/services.js';
export {
  RedisSessionStore,
  SessionConfigError,
  SessionStoreUnavailableError,
  redisSessionStore,
  createRedisSession,
  STRAPI_SESSION_DEFAULTS,
} from './session/index.js';
export type { RedisSessionStoreOptions, RedisSessionOptions, SessionCounters } from './session/index.js';
export { featureCounters } from './counters.js';
export type { FeatureCounters } from './counters.js';
export type { CounterRegistry } from './core/counters.js';
export {
  createApolloCache,
  RedisApolloCache,
  DEFAULT_APOLLO_NAMESPACE,
  createKeyv,
  createKeyvStore,
  RedisKeyvStore,
  DEFAULT_MAX_TTL_MS,
} from './graphql/index.js';
export type { ApolloCacheOptions, ConnectionKeyvOptions, RedisKeyvOptions, RedisKeyvStoreOptions, RedisTargetOptions, StoreCounters } from './graphql/index.js';
export {
  rateLimit,
  RedisRateLimitStore,
  rateLimitCounters,
  RateLimitConfigError,
  RateLimitUnavailableError,
  RATE_LIMIT_DEFAULTS,
} from './middlewares/rate-limit/index.js';
export type {
  RateLimitOptions,
  RateLimitContext,
  RateLimitInfo,
  RateLimitMiddleware,
  RateLimitCounters,
  RedisRateLimitStoreOptions,
  StoreHit,
  TimeSpan,
  RedisSourceOptions,
} from './middlewares/rate-limit/index.js';
export { responseCache, CacheConfigError, CACHE_DEFAULTS } from './middlewares/cache/index.js';
export type {
  ResponseCacheOptions,
  CacheRuleInput,
  CoalesceInput,
  CdnInput,
  PurgeWebhookInput,
  PurgeWebhookCounters,
  ResponseCacheMiddleware,
  CacheHandle,
  CacheService,
  CacheCounters,
} from './middlewares/cache/index.js';
export { createSocketIoAdapter, SocketIoAdapterMissingError, SOCKET_IO_ADAPTER_PACKAGE } from './socketio/index.js';
export type { SocketIoAdapter, SocketIoAdapterMode, SocketIoAdapterOptions } from './socketio/index.js';
export type { ConnectionSource, BoundedConnection } from './core/resolve.js';
export type { RedisStrapiSurface } from './strapi/types.js';
