import type { ResolvedRedisConfig } from '../core/config.js';
import type { RedisConnection } from '../core/connection.js';
import type { CronServiceLike } from '../core/cron-guard.js';
import type { RedisLogger } from '../core/logger.js';

/** What `strapi.redis` holds (the v2 shape). */
export interface RedisStrapiSurface {
  /** The resolved, frozen plugin config. */
  config: ResolvedRedisConfig;
  /** Enabled connections by name: `connections.<name>.client` is the ioredis client. */
  connections: Record<string, RedisConnection>;
}

/** The part of the Strapi instance the plugin uses. */
export interface StrapiLike {
  log: RedisLogger;
  config: { get(path: string, defaultValue?: unknown): unknown };
  redis?: RedisStrapiSurface;
  cron?: CronServiceLike;
  /** Strapi's service lookup (the admin's permission service, for the plugin's RBAC actions). */
  service?(uid: string): unknown;
}
