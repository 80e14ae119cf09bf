/**
 * Invalidation in Strapi: a document-service middleware purges a content type's tag after every
 * write (create, update, delete, publish, unpublish, discardDraft, clone) once the write is
 * committed. A write outside any transaction commits its own before the document-service call
 * returns: the purge runs then, and the call's caller waits for it. A write inside an outer
 * `strapi.db.transaction` (your service code, Strapi's bulk actions) is not committed yet when the
 * call returns, and a read meanwhile would cache the old rows again: its purge is registered with
 * the transaction's `onCommit` (once per content type and transaction) and runs when it commits;
 * a rollback purges nothing (nothing changed). Strapi runs commit callbacks without awaiting them,
 * so the cache middleware keeps an async context per write request and answers it only once the
 * purges its transactions started at commit have finished. A purge that fails is logged, not
 * thrown: the write itself succeeded, and the entries expire with their TTL.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { contentTypeTag } from './rules.js';
import type { PurgeWebhook } from './purge-webhook.js';
import { zeroCacheCounters, type CacheCounters, type CacheStore } from './store.js';

/** One cache middleware's purge surface. */
export interface CacheHandle {
  readonly store: CacheStore;
  /** The connection name it uses (`client` for a raw ioredis client). */
  readonly connection: string;
  /** Every tag its rules use. */
  readonly tags: readonly string[];
  readonly counters: CacheCounters;
  /** Remove the entries of a tag (throws when Redis fails). Resolves with the number of keys removed. */
  purgeTag(tag: string): Promise<number>;
  /** Remove the entries tagged with a content type (its own routes and rules listing it in `relatedContentTypes`). */
  purgeContentType(uid: string): Promise<number>;
  /** Remove every entry of every rule. */
  purgeAll(): Promise<number>;
  /** The built-in purge hook (`purgeWebhook`), or null. */
  readonly purgeWebhook?: PurgeWebhook | null;
  /** True when this cache enabled the purge endpoint (`purgeEndpoint`). */
  readonly purgeEndpoint?: boolean;
  /**
   * Fill `paths` (default: the `warm` option's) through `app` (default: the app of the last
   * request seen), one at a time, each once at a time across instances, skipping fresh entries.
   * Resolves with how many requests ran the handler path; never throws.
   */
  warm?(app?: unknown, paths?: readonly string[]): Promise<number>;
}

/** The document service's middleware context (Strapi 5). */
export interface DocumentMiddlewareContext {
  uid: string;
  action: string;
  params?: unknown;
}

/** What `strapi.db.transaction(cb)` passes its callback (Strapi 5, @strapi/database). */
export interface TransactionParams {
  trx: unknown;
  onCommit(callback: () => void): void;
}

/** The part of Strapi's database invalidation uses. */
export interface TransactionHost {
  /** True inside `strapi.db.transaction(cb)` (Strapi keeps the transaction in an async context). */
  inTransaction?(): boolean;
  /** Nested inside an open transaction, runs `cb` in it: `onCommit` then queues on the outer commit. */
  transaction?(cb: (params: TransactionParams) => unknown): Promise<unknown>;
}

/** The part of a Strapi instance invalidation uses. */
export interface InvalidationHost {
  log: { warn(message: string): void; debug(message: string): void };
  documents?: { use(middleware: (ctx: DocumentMiddlewareContext, next: () => Promise<unknown>) => Promise<unknown>): unknown };
  db?: TransactionHost;
}

/** Document-service actions that change what a read returns. */
export const WRITE_ACTIONS: ReadonlySet<string> = new Set(['create', 'update', 'delete', 'publish', 'unpublish', 'discardDraft', 'clone']);

const handles = new WeakMap<object, Set<CacheHandle>>();
const registered = new WeakSet<object>();

export function trackCache(strapi: object, handle: CacheHandle): void {
  let set = handles.get(strapi);
  if (!set) handles.set(strapi, (set = new Set()));
  set.add(handle);
}

/** Every cache middleware Strapi built for this instance. */
export function cachesOf(strapi: object): CacheHandle[] {
  return [...(handles.get(strapi) ?? [])];
}

/** Purge a content type in every cache middleware of this Strapi; failures are logged, never thrown. */
export async function purgeContentTypeEverywhere(strapi: InvalidationHost, uid: string): Promise<number> {
  let removed = 0;
  await Promise.all(
    cachesOf(strapi)
      .filter((h) => h.tags.includes(contentTypeTag(uid)))
      .map(async (h) => {
        try {
          removed += await h.purgeContentType(uid);
        } catch (err) {
          strapi.log.warn(`[redis] response cache: purge of "${uid}" failed, its entries expire with their maxAge: ${(err as Error).message}`);
        }
      }),
  );
  return removed;
}

/** Purges started by transaction commits during one request (see `awaitCommitPurges`). */
const requestPurges = new AsyncLocalStorage<Set<Promise<void>>>();

/**
 * Run a request's `next()` in a context that collects the purges its transactions start when they
 * commit, and resolve only once they have finished (each purge is bounded; failures are logged).
 * Nested calls (a route-level cache inside the global one) share the outer context.
 */
export async function awaitCommitPurges(next: () => Promise<unknown>): Promise<void> {
  if (requestPurges.getStore()) return void (await next());
  const pending = new Set<Promise<void>>();
  await requestPurges.run(pending, async () => {
    try {
      await next();
    } finally {
      while (pending.size > 0) {
        const batch = [...pending];
        pending.clear();
        await Promise.all(batch);
      }
    }
  });
}

/** Content types to purge when a transaction commits, per transaction (the knex transaction Strapi keeps in its context). */
const atCommit = new WeakMap<object, Set<string>>();

/**
 * Purge `uid` when the open transaction commits: the first write of a transaction registers one
 * commit callback; later writes add their content type to it. Nothing happens on rollback.
 */
async function purgeOnCommit(s: InvalidationHost, db: Required<TransactionHost>, uid: string): Promise<void> {
  await db.transaction(({ trx, onCommit }) => {
    // knex's transaction object is a function
    const key = (typeof trx === 'object' && trx !== null) || typeof trx === 'function' ? (trx as object) : undefined;
    const queued = key ? atCommit.get(key) : undefined;
    if (queued) {
      queued.add(uid);
      return;
    }
    const uids = new Set([uid]);
    if (key) atCommit.set(key, uids);
    onCommit(() => {
      if (key) atCommit.delete(key);
      const done = Promise.all([...uids].map((u) => purgeContentTypeEverywhere(s, u))).then(() => undefined);
      requestPurges.getStore()?.add(done);
    });
  });
}

/**
 * Install the document-service middleware that purges after writes. Call it from the plugin's
 * `register()`; safe to call more than once (the cache factory calls it too).
 */
export function registerCacheInvalidation(strapi: unknown): void {
  const s = strapi as InvalidationHost;
  if (!s || typeof s !== 'object' || registered.has(s)) return;
  if (typeof s.documents?.use !== 'function') return;
  registered.add(s);
  s.documents.use(async function redisCachePurge(ctx, next) {
    const result = await next();
    if (WRITE_ACTIONS.has(ctx.action) && typeof ctx.uid === 'string' && handles.get(s)?.size) {
      const db = s.db;
      if (db && typeof db.inTransaction === 'function' && typeof db.transaction === 'function' && db.inTransaction()) {
        await purgeOnCommit(s, db as Required<TransactionHost>, ctx.uid);
      } else {
        await purgeContentTypeEverywhere(s, ctx.uid);
      }
    }
    return result;
  });
}

/** `strapi.plugin('redis').service('cache')`: purge and counters across this instance's cache middlewares. */
export interface CacheService {
  /** Purge a content type's entries (resolves with the number of keys removed). */
  purgeContentType(uid: string): Promise<number>;
  /** Purge a tag (a rule's `tags`, or `route:<path>` of a path rule without tags). */
  purgeTag(tag: string): Promise<number>;
  /** Purge every entry of every rule. */
  purgeAll(): Promise<number>;
  /** Counters summed over the cache middlewares of this instance. */
  stats(): CacheCounters;
  /** Fill the `warm` paths of every cache middleware (or `paths`, in each) through Strapi's app; resolves with the count filled. */
  warm(paths?: string[]): Promise<number>;
}

export function createCacheService(strapi: unknown): CacheService {
  const s = strapi as object;
  const sum = async (f: (h: CacheHandle) => Promise<number>) => (await Promise.all(cachesOf(s).map(f))).reduce((a, b) => a + b, 0);
  return {
    purgeContentType: (uid) => sum((h) => h.purgeContentType(uid)),
    purgeTag: (tag) => sum((h) => (h.tags.includes(tag) ? h.purgeTag(tag) : Promise.resolve(0))),
    purgeAll: () => sum((h) => h.purgeAll()),
    warm: (paths) => sum((h) => h.warm?.((s as { server?: { app?: unknown } }).server?.app, paths) ?? Promise.resolve(0)),
    stats: () => {
      const total = zeroCacheCounters();
      for (const h of cachesOf(s)) for (const k of Object.keys(total) as Array<keyof CacheCounters>) total[k] += h.counters[k];
      return total;
    },
  };
}
