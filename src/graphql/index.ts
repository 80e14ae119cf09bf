/**
 * Apollo Server's cache and Keyv on the suite's named Redis connections. Named exports only: this
 * is the list `src/index.ts` re-exports.
 */
export { createApolloCache, RedisApolloCache, DEFAULT_APOLLO_NAMESPACE } from './apollo-cache.js';
export type { ApolloCacheOptions } from './apollo-cache.js';
export { createKeyv, createKeyvStore, keyvOnRegistry, RedisKeyvStore } from './keyv-store.js';
export type { ConnectionKeyvOptions, RedisKeyvOptions, RedisKeyvStoreOptions, StoreCounters } from './keyv-store.js';
export type { RedisTargetOptions } from './target.js';
export { DEFAULT_MAX_TTL_MS, expiryMs } from './ttl.js';
