/** Rate limiting on Redis: the Koa/Strapi middleware and the koa2-ratelimit store. */
export { rateLimit, createStrapiRateLimit, rateLimitCounters } from './middleware.js';
export type { RateLimitMiddleware } from './middleware.js';
export { RedisRateLimitStore } from './store.js';
export type { RedisRateLimitStoreOptions, StoreHit } from './store.js';
export { RATE_LIMIT_DEFAULTS, timeSpanToMs } from './options.js';
export type { RateLimitOptions, RateLimitContext, RateLimitInfo, TimeSpan } from './options.js';
export type { RedisConnectionLike, RedisRegistryLike, RedisSourceOptions } from './source.js';
export type { RateLimitCounters } from './shared.js';
export { RateLimitConfigError, RateLimitUnavailableError } from './errors.js';
export { HIT_LUA, UNHIT_LUA } from './scripts.js';
