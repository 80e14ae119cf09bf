/**
 * Strapi middlewares of the plugin, registered as `plugin::redis.<name>` (names are exact and
 * case-sensitive). Strapi calls each factory once, as `factory(config, { strapi })`, in bootstrap.
 */
import { createStrapiCache } from '../middlewares/cache/middleware.js';
import { createStrapiRateLimit } from '../middlewares/rate-limit/middleware.js';
import { strapiRedisSession } from '../session/middleware.js';

export const middlewares: Record<string, (config: unknown, ctx: { strapi: unknown }) => unknown> = {
  cache: createStrapiCache,
  rateLimit: createStrapiRateLimit,
  session: strapiRedisSession,
};
