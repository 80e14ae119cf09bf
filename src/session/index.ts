export { RedisSessionStore, SessionConfigError, SessionStoreUnavailableError, redisSessionStore } from './store.js';
export type { SessionCounters } from './store.js';
export type { RedisSessionStoreOptions } from './store.js';
export { createRedisSession, strapiRedisSession, STRAPI_SESSION_DEFAULTS } from './middleware.js';
export type { RedisSessionOptions } from './middleware.js';
