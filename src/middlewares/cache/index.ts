/** The response cache on Redis: the Koa/Strapi middleware, its purge surface and invalidation. */
export { responseCache, createStrapiCache } from './middleware.js';
export type { ResponseCacheMiddleware, StrapiCacheHost } from './middleware.js';
export { CACHE_DEFAULTS } from './options.js';
export type { ResponseCacheOptions } from './options.js';
export { CacheConfigError } from './errors.js';
export { contentTypeTag } from './rules.js';
export type { CacheRuleInput } from './rules.js';
export type { CdnInput, CoalesceInput, PurgeWebhookInput } from './option-groups.js';
export type { PurgeWebhook, PurgeWebhookCounters } from './purge-webhook.js';
export { registerCacheInvalidation, createCacheService, WRITE_ACTIONS } from './invalidation.js';
export type { CacheHandle, CacheService } from './invalidation.js';
export type { CacheCounters } from './store.js';
