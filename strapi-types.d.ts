// Types `strapi.redis` on Strapi 5's `Core.Strapi`. Opt in once in a TypeScript Strapi app, e.g. in
// `types/redis.d.ts`:  /// <reference types="strapi-plugin-redis-suite/strapi-types" />
// (kept out of the main entry so that apps without @strapi/types are not affected).
import type { RedisStrapiSurface } from 'strapi-plugin-redis-suite';

declare module '@strapi/types/dist/core/strapi.js' {
  interface Strapi {
    /** Set by the redis plugin in its register(): `strapi.redis.connections.<name>.client`. */
    redis: RedisStrapiSurface;
  }
}
