/**
 * Strapi middlewares of the plugin, registered as `plugin::redis.<name>` (names are exact and
 * case-sensitive). Strapi calls each factory once, as `factory(config, { strapi })`, in bootstrap.
 */
import { strapiRedisSession } from '../session/middleware.js';

export const middlewares: Record<string, (config: unknown, ctx: { strapi: unknown }) => unknown> = {
  session: strapiRedisSession,
};
