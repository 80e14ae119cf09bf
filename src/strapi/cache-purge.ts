/**
 * The purge endpoint (opt-in, `purgeEndpoint: true` on a `plugin::redis.cache` in the global
 * middleware list): `POST /api/redis-cache/purge` with `{ "tags": [...] }`, `{ "contentTypes":
 * [...] }` or `{ "all": true }`, for CI jobs and webhooks. A Content API route: Strapi
 * authenticates it (an API token, or a users-permissions user) and checks its own action,
 * `plugin::redis.cache-purge.purge` (a scope of its own in API token and role settings). The router
 * is built when Strapi registers routes, after the global middlewares were made: when no cache
 * enabled the endpoint, the route is public and answers 404 to everyone. Every call is
 * logged with the caller's id (API token id or user id), never its credential.
 */
import { cachesOf, type CacheHandle } from '../middlewares/cache/invalidation.js';
import { contentTypeTag } from '../middlewares/cache/rules.js';
import type { StrapiLike } from './types.js';

/** The Koa context parts the controller uses. */
interface PurgeContext {
  request: { body?: unknown };
  state: { auth?: { strategy?: { name?: unknown }; credentials?: { id?: unknown } }; user?: { id?: unknown } };
  status: number;
  body: unknown;
}

export const PURGE_ACTION = 'plugin::redis.cache-purge.purge';

const enabledCaches = (strapi: object): CacheHandle[] => cachesOf(strapi).filter((h) => h.purgeEndpoint === true);

/**
 * The content-api router. Enabled: the route, authenticated and authorised by Strapi. Disabled:
 * the same route without authentication, answering 404 to everyone (without a route, Strapi's
 * router answers other paths under /api with 405, not 404).
 */
export function purgeRouter({ strapi }: { strapi: object }) {
  const enabled = enabledCaches(strapi).length > 0;
  return {
    type: 'content-api',
    // under the REST prefix: /api/redis-cache/purge (not /api/redis/...)
    prefix: '',
    routes: [{ method: 'POST', path: '/redis-cache/purge', handler: 'cache-purge.purge', config: enabled ? { policies: [] } : { auth: false } }],
  };
}

function caller(ctx: PurgeContext): string {
  const strategy = typeof ctx.state.auth?.strategy?.name === 'string' ? ctx.state.auth.strategy.name : 'unknown';
  const id = ctx.state.auth?.credentials?.id ?? ctx.state.user?.id;
  // Strapi 5 names its API token strategy 'content-api-token' (older: 'api-token')
  return strategy.endsWith('api-token') ? `API token id ${String(id)}` : `${strategy} id ${String(id)}`;
}

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && s !== '');

export function createPurgeController({ strapi }: { strapi: StrapiLike }) {
  return {
    async purge(ctx: PurgeContext): Promise<void> {
      const caches = enabledCaches(strapi);
      if (caches.length === 0) {
        ctx.status = 404;
        ctx.body = { error: { status: 404, name: 'NotFoundError', message: 'Not Found' } };
        return;
      }
      const body = (ctx.request.body ?? {}) as { tags?: unknown; contentTypes?: unknown; all?: unknown };
      const given = (['tags', 'contentTypes', 'all'] as const).filter((k) => body[k] !== undefined);
      const bad = (message: string) => {
        ctx.status = 400;
        ctx.body = { error: { status: 400, name: 'ValidationError', message } };
      };
      if (given.length !== 1) return bad('expected exactly one of { "tags": [...] }, { "contentTypes": [...] }, { "all": true }');
      let tags: string[];
      if (given[0] === 'all') {
        if (body.all !== true) return bad('"all" must be true');
        tags = [...new Set(caches.flatMap((h) => h.tags))];
      } else if (given[0] === 'tags') {
        if (!strings(body.tags)) return bad('"tags" must be a non-empty array of non-empty strings');
        tags = body.tags;
      } else {
        if (!strings(body.contentTypes)) return bad('"contentTypes" must be a non-empty array of content type UIDs');
        tags = body.contentTypes.map(contentTypeTag);
      }
      const started = Date.now();
      let purged = 0;
      try {
        for (const h of caches) {
          const mine = tags.filter((t) => h.tags.includes(t));
          for (const tag of mine) purged += await h.purgeTag(tag);
        }
      } catch (err) {
        strapi.log.warn(`[redis] response cache: purge endpoint called by ${caller(ctx)} (${given[0]}: ${tags.join(' ')}) failed: ${(err as Error).message}`);
        ctx.status = 503;
        ctx.body = { error: { status: 503, name: 'ServiceUnavailableError', message: 'the purge failed; entries not reached expire with their maxAge' } };
        return;
      }
      strapi.log.info(
        `[redis] response cache: purge endpoint called by ${caller(ctx)}: ${given[0]} ${given[0] === 'all' ? '' : `${tags.join(' ')} `}removed ${purged} entries in ${Date.now() - started} ms`,
      );
      ctx.status = 200;
      ctx.body = { purged, tags };
    },
  };
}
