/**
 * The response cache view: every tag of the `plugin::redis.cache` rules of this Strapi, with the
 * number of live entries its tag index (`<prefix>ti:{<tag>}`) holds, and purges through the cache's own
 * purge (generation bump, then the index drained in bounded batches: no SCAN).
 */
import { cachesOf, createCacheService } from '../middlewares/cache/invalidation.js';
import { badParam } from './errors.js';

export interface CacheTagView {
  tag: string;
  entries: number;
}

export interface CacheView {
  enabled: boolean;
  connection?: string;
  tags: CacheTagView[];
}

/** Tags in rule order; entries summed over the cache middlewares that use the tag. Rejects when Redis fails. */
export async function cacheView(host: object): Promise<CacheView> {
  const handles = cachesOf(host);
  if (handles.length === 0) return { enabled: false, tags: [] };
  const tags = [...new Set(handles.flatMap((h) => h.tags))];
  const entries = await Promise.all(
    tags.map(async (tag) => {
      const counts = await Promise.all(handles.filter((h) => h.tags.includes(tag)).map((h) => h.store.tagSize(tag)));
      return { tag, entries: counts.reduce((a, b) => a + b, 0) };
    }),
  );
  return { enabled: true, connection: handles[0]!.connection, tags: entries };
}

/** `{ tag }` purges one tag, `{ all: true }` every tag. 400 for an unknown tag or a body with neither. */
export async function purgeCache(host: object, body: { tag?: unknown; all?: unknown }): Promise<{ purged: number; tag?: string; all?: true }> {
  const service = createCacheService(host);
  if (body?.all === true) return { purged: await service.purgeAll(), all: true };
  const tag = body?.tag;
  const known = [...new Set(cachesOf(host).flatMap((h) => h.tags))];
  if (typeof tag !== 'string' || tag === '') throw badParam('tag', 'a cache tag, or { "all": true } to purge everything', tag);
  if (!known.includes(tag))
    throw badParam(
      'tag',
      `one of the configured cache tags (${known.length ? known.map((t) => JSON.stringify(t)).join(', ') : 'none: no plugin::redis.cache rules'})`,
      tag,
    );
  return { purged: await service.purgeTag(tag), tag };
}
