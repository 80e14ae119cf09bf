/**
 * The response cache: `plugin::redis.cache` in Strapi, `responseCache()` in a plain Koa app.
 *
 * Per GET/HEAD request on a configured route: bypass when the request carries credentials the key
 * does not cover; otherwise ONE bounded GET. A hit answers from it (`X-Cache: HIT`, `ETag`, `Age`,
 * 304 on a matching `If-None-Match`). A miss reads the tags' generations, runs the handler, and
 * stores a cacheable response (2xx but 206, no `Set-Cookie`, not streamed, no `no-store`/`private`/
 * `no-cache`, no `Vary` on a request header the key does not cover, within `maxBodyBytes`) with
 * `SET ... PX`, awaited before the response is sent. The key covers the host (`keyHost`) in plain
 * Koa by default. Options, rules and the connection are settled once, in the factory.
 *
 * Longer than 350 lines: one request's path (bypass, read, SWR, stale-if-error, coalescing, fill,
 * store) shares the factory's settled state and counters; the parts that stand alone are beside it
 * (options.ts, rules.ts, key.ts, store.ts, invalidation.ts, purge-webhook.ts).
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import type { Context, Next } from 'koa';
import { consoleLogger, createSuiteLog, type RedisLogger, type SuiteLog } from '../../core/logger.js';
import type { ConfigIssue } from '../../core/errors.js';
import { lazyConnection, resolveConnection, type BoundedConnection, type ResolveOptions } from '../../core/resolve.js';
import { isPlainObject } from '../../core/schema.js';
import { CacheConfigError } from './errors.js';
import { awaitCommitPurges, trackCache, registerCacheInvalidation, type CacheHandle, type InvalidationHost } from './invalidation.js';
import { buildKey, callerOf } from './key.js';
import { PurgeWebhook } from './purge-webhook.js';
import { checkCacheOptions, resolveCacheOptions, type ResolvedCacheOptions, type ResponseCacheOptions } from './options.js';
import { contentTypeTag, type ContentTypeInfo, type ResolvedRule } from './rules.js';
import { CacheStore, encodeEntry, zeroCacheCounters, type CacheCounters, type CachedResponse, type EntryMeta } from './store.js';

/** A named Koa middleware carrying its cache handle (purge, counters). */
export type ResponseCacheMiddleware = ((ctx: Context, next: Next) => Promise<void>) & { readonly cache: CacheHandle };

const STRAPI_ID = 'plugin::redis.cache';

/** Response headers stored with an entry and replayed on a hit. */
const KEPT_HEADERS = ['content-type', 'content-language', 'content-encoding', 'content-disposition', 'last-modified', 'cache-control', 'vary'] as const;

/**
 * A response cache for a plain Koa app.
 *
 * ```ts
 * const registry = createRedisRegistry({ connections: { default: { connection: 'redis://127.0.0.1:6379' } } });
 * app.use(responseCache({ registry, routes: [{ path: '/products/:id', maxAge: 30_000 }] }));
 * ```
 * Throws `CacheConfigError` for invalid options.
 */
export function responseCache(options: ResponseCacheOptions = {}): ResponseCacheMiddleware {
  const resolved = resolveCacheOptions(options, 'options of responseCache()');
  const counters = zeroCacheCounters();
  // Resolved on first use; its counters then join its registry's (none for a raw client).
  const conn = lazyConnection(options, `the response cache (connection "${options.connection ?? 'default'}")`, countedAs(counters));
  const log = createSuiteLog(options.logger ?? consoleLogger, 'cache');
  return build(resolved, conn, log, options.connection ?? 'default', false, counters);
}

/** How a cache middleware's connection is looked up: marked as the cache's, its counters registered there (src/core/counters.ts). */
function countedAs(counters: CacheCounters): ResolveOptions {
  return { feature: 'cache', counted: { feature: 'cache', read: () => counters } };
}

/** The part of a Strapi instance the cache uses. */
export interface StrapiCacheHost extends InvalidationHost {
  log: RedisLogger;
  config: { get(path: string, defaultValue?: unknown): unknown };
  contentTypes: Record<string, ContentTypeInfo | undefined>;
  plugin(name: string): { service(name: string): unknown } | undefined;
}

/**
 * The Strapi factory of `plugin::redis.cache` (called once, as `factory(config, { strapi })`, in
 * bootstrap). Content type UIDs and the connection name are checked here: boot stops on a mistake.
 */
export function createStrapiCache(config: unknown, { strapi }: { strapi: unknown }): ResponseCacheMiddleware {
  const host = strapi as StrapiCacheHost;
  const where = `config of ${STRAPI_ID}`;
  const restPrefix = host.config.get('api.rest.prefix', '/api');
  const checked = checkCacheOptions(config, {
    root: 'config',
    contentTypes: host.contentTypes,
    restPrefix: typeof restPrefix === 'string' ? restPrefix : '/api',
    keyHostDefault: false,
  });
  const options = (isPlainObject(config) ? config : {}) as ResponseCacheOptions;
  const issues: ConfigIssue[] = checked.ok ? [] : [...checked.issues];
  const counters = zeroCacheCounters();
  // Counters join the connection's registry only for a cache that is built.
  const lookup: ResolveOptions = checked.ok ? countedAs(counters) : { feature: 'cache' };
  let conn: (() => BoundedConnection) | undefined;
  if (options.client || options.registry) {
    conn = lazyConnection(options, where, lookup);
  } else {
    // The app's connection, looked up now: an unknown name stops boot with the other problems.
    const name = options.connection ?? 'default';
    try {
      const found = resolveConnection({ connection: name }, `${STRAPI_ID} config.connection`, { ...lookup, strapi: host });
      conn = () => found;
    } catch (err) {
      issues.push({ path: 'config.connection', got: JSON.stringify(name), expected: (err as Error).message });
    }
  }
  if (!checked.ok || !conn || issues.length > 0) throw new CacheConfigError(where, issues);
  const mw = build(checked.value, conn, createSuiteLog(options.logger ?? host.log, 'cache'), options.connection ?? 'default', true, counters);
  trackCache(host, mw.cache);
  // Normally called from the plugin's register(); idempotent, so a missing call still purges.
  registerCacheInvalidation(host);
  return mw;
}

/**
 * Run the handler; resolve with why it failed (threw, answered 5xx, took longer than
 * `timeoutMs`) and, when it threw, the error (for a caller with nothing to stand in), or null. A
 * handler past its timeout goes on: its late answer or error is dropped.
 */
async function runGuarded(ctx: Context, next: Next, timeoutMs: number | null): Promise<{ reason: string; thrown?: { error: unknown } } | null> {
  const running = next();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    if (timeoutMs === null) await running;
    else {
      running.catch(() => undefined); // a late rejection, after the timeout answered, is dropped
      const timedOut = await Promise.race([
        running.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), timeoutMs);
        }),
      ]);
      if (timedOut) return { reason: `took longer than originTimeout (${timeoutMs} ms)` };
    }
  } catch (err) {
    return { reason: `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`, thrown: { error: err } };
  } finally {
    if (timer) clearTimeout(timer);
  }
  return ctx.status >= 500 ? { reason: `answered ${ctx.status}` } : null;
}

/** Failing origins per route: one warning when a route starts failing (and a stored entry stands in), one info line when it answers again. */
class OriginOutages {
  readonly #down = new Map<string, { since: number; served: number }>();
  constructor(
    private readonly log: SuiteLog,
    private readonly now: () => number,
  ) {}
  failed(rule: ResolvedRule, reason: string, during = 'request'): void {
    const outage = this.#down.get(rule.label);
    if (outage) {
      outage.served++;
      return;
    }
    this.#down.set(rule.label, { since: this.now(), served: 1 });
    const serving =
      during === 'request'
        ? `serving stored entries up to staleIfError (${rule.staleIfError} ms) past their maxAge (X-Cache: STALE-IF-ERROR)`
        : `stale entries stay (X-Cache: STALE) until their staleWhileRevalidate (${rule.staleWhileRevalidate} ms) ends`;
    this.log.warn(`response cache: the handler of ${rule.label} ${reason} (${during}); ${serving} until it answers again`);
  }
  ok(rule: ResolvedRule): void {
    const outage = this.#down.get(rule.label);
    if (!outage) return;
    this.#down.delete(rule.label);
    this.log.info(
      `response cache: the handler of ${rule.label} answers again after ${this.now() - outage.since} ms (${outage.served} response(s) served from stale entries)`,
    );
  }
}

/** Requests the cache itself makes to refresh an entry: which middleware refreshes which entry key. */
const refreshRequests = new WeakMap<object, { owner: CacheHandle; key: string | null }>();
/** One request handler per Koa app (its whole middleware stack, as a server runs it). */
const handlers = new WeakMap<object, (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>>();

/**
 * Run a GET/HEAD through `app` as the server would (every middleware, the router, the handler),
 * on a request made here: no socket (no client address), no body, the original URL and headers.
 * Its response goes nowhere; the cache middleware that asked stores it. Resolves when the app has
 * answered it.
 */
async function replay(
  app: Context['app'],
  method: string,
  url: string,
  headers: http.IncomingHttpHeaders,
  refresh: { owner: CacheHandle; key: string | null },
): Promise<void> {
  let handler = handlers.get(app);
  if (!handler) {
    handler = app.callback() as unknown as (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
    handlers.set(app, handler);
  }
  const req = new http.IncomingMessage(new net.Socket());
  req.method = method;
  req.url = url;
  req.headers = headers;
  req.push(null);
  const res = new http.ServerResponse(req);
  refreshRequests.set(req, refresh);
  await handler(req, res);
}

/** Lower-case directive names of a request's `Cache-Control`. */
function requestDirectives(value: string): Set<string> {
  const names = new Set<string>();
  for (const part of value.split(',')) {
    const name = part.split('=')[0]!.trim().toLowerCase();
    if (name) names.add(name);
  }
  return names;
}

function etagMatches(header: string, etag: string): boolean {
  if (!header) return false;
  const bare = (t: string) => t.trim().replace(/^W\//, '');
  const mine = bare(etag);
  return header.split(',').some((t) => t.trim() === '*' || bare(t) === mine);
}

/** Lower-case header names of a `Vary` value. */
function varyNames(value: unknown): Set<string> {
  const names = new Set<string>();
  for (const part of String(value ?? '').split(',')) {
    const name = part.trim().toLowerCase();
    if (name) names.add(name);
  }
  return names;
}

/**
 * True when every request header the handler added to `Vary` (names set before the cache ran, e.g.
 * CORS's `Origin`, belong to middlewares that run on every request, hits included) is covered by
 * the key: a key header, the host when keyed, or a credential header the request did not carry (an
 * entry is only served to requests without credentials, or keyed by the caller's id).
 */
function varyCovered(ctx: Context, before: Set<string>, covered: ReadonlySet<string>, caller: string | null): boolean {
  const after = varyNames(ctx.response.get('vary'));
  if (after.has('*')) return false;
  for (const name of after) {
    if (before.has(name) || covered.has(name)) continue;
    if ((name === 'authorization' || name === 'cookie') && ctx.get(name) === '') continue;
    if (name === 'authorization' && caller !== null && caller !== 'anon') continue;
    return false;
  }
  return true;
}

/** The body as bytes when the response may be stored, else null. */
function storableBody(ctx: Context, maxBodyBytes: number): Buffer | null {
  const status = ctx.status;
  if (status < 200 || status > 299 || status === 206) return null;
  const headers = ctx.response.headers;
  if (headers['set-cookie'] !== undefined) return null;
  const cc = String(headers['cache-control'] ?? '');
  if (/(?:^|[\s,])(?:no-store|private|no-cache)(?:$|[\s,=])/i.test(cc)) return null;
  const body: unknown = ctx.body;
  let bytes: Buffer;
  if (body === null || body === undefined) bytes = Buffer.alloc(0);
  else if (Buffer.isBuffer(body)) bytes = body;
  else if (typeof body === 'string') bytes = Buffer.from(body, 'utf8');
  else if (typeof (body as { pipe?: unknown }).pipe === 'function' || typeof (body as { getReader?: unknown }).getReader === 'function') return null;
  else if (body instanceof Uint8Array || body instanceof ArrayBuffer || (typeof Blob !== 'undefined' && body instanceof Blob)) return null;
  else {
    // Koa sends any other body as JSON.stringify(body); storing the same bytes keeps the type it set.
    try {
      bytes = Buffer.from(JSON.stringify(body), 'utf8');
    } catch {
      return null; // Koa reports it when it sends the body
    }
  }
  return bytes.length > maxBodyBytes ? null : bytes;
}

/**
 * The middleware. `strapi`: write requests run in a context that waits for the purges their
 * transactions start at commit (see invalidation.ts), so their response follows the purge.
 */
function build(
  options: ResolvedCacheOptions,
  connection: () => BoundedConnection,
  log: SuiteLog,
  name: string,
  strapi: boolean,
  counters: CacheCounters,
): ResponseCacheMiddleware {
  const store = new CacheStore({
    prefix: options.prefix,
    connection,
    log: () => log,
    readTimeout: options.readTimeout,
    writeTimeout: options.writeTimeout,
    name,
    counters,
    now: options.now,
  });
  const webhook = options.purgeWebhook ? new PurgeWebhook(options.purgeWebhook, log) : null;
  /** Tell the hooks (never awaited: a purge, and the write behind it, does not wait for a CDN). */
  const notifyPurge = (tags: string[], keys: string[]): void => {
    if (options.onPurge) {
      try {
        Promise.resolve(options.onPurge([...tags], [...keys])).catch((err: unknown) => log.warn(`onPurge failed: ${(err as Error)?.message ?? String(err)}`));
      } catch (err) {
        log.warn(`onPurge failed: ${(err as Error)?.message ?? String(err)}`);
      }
    }
    webhook?.notify(tags, keys);
  };
  const purgeTags = async (tags: string[]): Promise<number> => {
    if (tags.length === 0) return 0;
    const keys: string[] = [];
    let n = 0;
    try {
      for (const tag of tags) n += await store.purge(tag, keys);
    } finally {
      // a purge that failed midway is still told: a CDN purge by tag is safe to repeat
      if (options.onPurge || webhook) notifyPurge(tags, keys);
      warmSoon();
    }
    return n;
  };
  const handle: CacheHandle = {
    store,
    connection: name,
    tags: options.tags,
    counters,
    purgeTag: (tag) => purgeTags([tag]),
    purgeContentType: async (uid) => (options.tags.includes(contentTypeTag(uid)) ? purgeTags([contentTypeTag(uid)]) : 0),
    purgeAll: () => purgeTags([...options.tags]),
    purgeWebhook: webhook,
    purgeEndpoint: options.purgeEndpoint,
    warm: (app, paths) => warm(app, paths),
  };
  /** The app of the last request (warm-ups after a purge go through it). */
  let lastApp: Context['app'] | undefined;
  /** One warm-up at a time per middleware; a purge during one queues one more. */
  let warming: Promise<number> | null = null;
  let warmAgain = false;
  const warm = async (app?: unknown, paths?: readonly string[]): Promise<number> => {
    const target = (app as Context['app'] | undefined) ?? lastApp;
    if (app && !lastApp) lastApp = app as Context['app'];
    const list = paths ? paths.map((p) => ({ path: p, host: '' })) : options.warm;
    if (!target || typeof (target as { callback?: unknown }).callback !== 'function' || list.length === 0) return 0;
    let filled = 0;
    for (const { path, host } of list) {
      const request = `${host} ${path}`;
      const token = await store.warmLock(request, options.lockTTL);
      if (!token) continue; // another instance warms it now (or Redis failed)
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        // a Host every request has (Koa and Strapi read it); with keyHost, name the host with a full URL
        const headers: http.IncomingHttpHeaders = { host: host || 'localhost' };
        const before = counters.misses;
        const done = replay(target, 'GET', path, headers, { owner: handle, key: null });
        done.catch(() => undefined);
        const timedOut = await Promise.race([done.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), options.warmTimeout)))]);
        if (timedOut) log.warn(`warm-up of ${path} took longer than warmTimeout (${options.warmTimeout} ms); moving on`);
        else if (counters.misses > before) filled++;
      } catch (err) {
        log.warn(`warm-up of ${path} failed: ${(err as Error).message}`);
      } finally {
        if (timer) clearTimeout(timer);
        await store.warmUnlock(request, token);
      }
    }
    log.info(`warm-up: ${filled} of ${list.length} path(s) filled (the others were fresh, warmed by another instance, or failed)`);
    return filled;
  };
  /** Warm after a purge (never awaited by the purge); one run at a time, one more queued. */
  const warmSoon = (): void => {
    if (options.warm.length === 0 || !lastApp) return;
    if (warming) {
      warmAgain = true;
      return;
    }
    warming = warm().finally(() => {
      warming = null;
      if (warmAgain) {
        warmAgain = false;
        warmSoon();
      }
    });
  };

  /** `Cache-Control` and the tags header for a CDN in front (`cdn`), from the rule. */
  const cdnHeaders = (ctx: Context, rule: ResolvedRule): void => {
    const cdn = options.cdn;
    if (!cdn) return;
    if (cdn.cacheControl) {
      const sec = (ms: number) => Math.floor(ms / 1000);
      let value = `public, max-age=${sec(cdn.browserMaxAge)}, s-maxage=${sec(rule.maxAge)}`;
      if (rule.staleWhileRevalidate > 0) value += `, stale-while-revalidate=${sec(rule.staleWhileRevalidate)}`;
      if (rule.staleIfError > 0) value += `, stale-if-error=${sec(rule.staleIfError)}`;
      ctx.set('Cache-Control', value);
    }
    if (cdn.tagsHeader && rule.tags.length > 0) ctx.set(cdn.tagsHeader, rule.tags.join(cdn.tagsHeader.toLowerCase() === 'cache-tag' ? ',' : ' '));
  };
  const keyOptions = {
    keyHost: options.keyHost,
    keyHeaders: options.keyHeaders,
    queryKeys: options.queryKeys,
    maxKeyLength: options.maxKeyLength,
    prefixLength: options.prefix.length + 2,
  };
  // Request headers the key covers (a response may vary on these).
  const covered: ReadonlySet<string> = new Set([...options.keyHeaders, ...(options.keyHost ? ['host'] : [])]);

  const now = options.now;
  const originOutages = new OriginOutages(log, now);
  /** Entry keys this instance is refreshing in the background (one attempt per key at a time). */
  const refreshing = new Set<string>();

  const fn = async function responseCache(ctx: Context, next: Next): Promise<void> {
    lastApp = ctx.app;
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return strapi ? awaitCommitPurges(next) : void (await next());
    const refresh = refreshRequests.get(ctx.req);
    // A background refresh passes every other cache middleware (an outer one must not answer it from its own entry).
    if (refresh && refresh.owner !== handle) return void (await next());
    if (!options.enabled) return void (await next());
    const rule = options.rules.find((r) => r.matches(ctx.path));
    if (!rule) return void (await next());

    const credentials = ctx.get('authorization') !== '' || ctx.get('cookie') !== '';
    let caller: string | null = null;
    if (rule.byCaller) caller = callerOf(ctx.state) ?? (credentials ? null : 'anon');
    if (credentials && caller === null) {
      // The key would not cover whoever these credentials belong to.
      counters.bypasses++;
      if (options.xCache) ctx.set('X-Cache', 'BYPASS');
      return void (await next());
    }

    const key = store.entryKey(buildKey(ctx, keyOptions, caller, rule.schema));
    if (refresh) {
      // The refresh of `refresh.key` (see startRefresh): run the handler and store; never serve an entry.
      if (refresh.key !== null && key !== refresh.key) return void (await next());
      if (refresh.key === null) {
        // A warm-up: nothing to do when the entry is fresh
        const current = await store.read(key);
        if (current && now() - current.meta.t < rule.maxAge) return;
        if (current === undefined) return; // Redis failed: a fill would not be stored
      }
      return fill(ctx, next, rule, key, caller, null, undefined, true);
    }
    const honor = options.honorRequestCacheControl;
    if (honor) {
      const directives = requestDirectives(ctx.get('cache-control'));
      if ((directives.has('no-store') || directives.has('no-cache')) && (await store.claimDirective(key, honor.interval))) {
        if (directives.has('no-store')) {
          counters.bypasses++;
          if (options.xCache) ctx.set('X-Cache', 'BYPASS');
          return void (await next());
        }
        // no-cache: revalidate (the handler's answer replaces the entry)
        return fill(ctx, next, rule, key, caller, null);
      }
    }
    const read = await store.read(key);
    let cached: CachedResponse | null | undefined = read;
    let fallback: CachedResponse | undefined;
    if (read) {
      const age = now() - read.meta.t;
      if (age < rule.maxAge) return serve(ctx, read, 'HIT', rule);
      if (age < rule.maxAge + rule.staleWhileRevalidate) {
        serve(ctx, read, 'STALE', rule);
        startRefresh(ctx, key, read.meta.t);
        return;
      }
      // Within staleIfError it stands in for a failing handler.
      if (age < rule.maxAge + rule.staleIfError) fallback = read;
      // Expired on our clock (Redis keeps it for the stale windows): a miss.
      cached = null;
    }
    const fresh = (entry: CachedResponse) => now() - entry.meta.t < rule.maxAge;

    // Coalescing: one request per key fills the entry; the others wait for it (bounded).
    let token: string | null | undefined;
    if (cached === null && options.coalesce) {
      token = await store.lock(key, options.coalesce.lockTTL);
      if (token) {
        // Another request may have filled the entry and released its lock between our read and
        // our lock: look once more before running the handler.
        const late = await store.read(key);
        if (late && fresh(late)) {
          await store.unlock(key, token);
          counters.coalesced++;
          return serve(ctx, late, 'HIT', rule);
        }
      } else if (token === null) {
        const filled = await store.waitForFill(key, options.coalesce, fresh);
        if (filled) {
          counters.coalesced++;
          return serve(ctx, filled, 'HIT', rule);
        }
      }
    }
    try {
      await fill(ctx, next, rule, key, caller, cached, fallback);
    } finally {
      if (token) await store.unlock(key, token);
    }
  };

  /** The stored entry of `key` when it expired less than staleIfError ago (one bounded read), else undefined. */
  async function storedWithinStaleIfError(key: string, rule: ResolvedRule): Promise<CachedResponse | undefined> {
    const entry = await store.read(key);
    return entry && now() - entry.meta.t < rule.maxAge + rule.staleIfError ? entry : undefined;
  }

  /** Run the handler and store its response when it may be kept. `cached` undefined: Redis failed (nothing is written). */
  async function fill(
    ctx: Context,
    next: Next,
    rule: ResolvedRule,
    key: string,
    caller: string | null,
    cached: CachedResponse | null | undefined,
    fallback?: CachedResponse,
    background = false,
  ): Promise<void> {
    counters.misses++;
    // Read before the handler runs: a purge after this point is seen by write() and not undone.
    const generation = cached !== undefined ? await store.generations(rule.tags) : undefined;
    if (options.xCache) ctx.set('X-Cache', 'MISS');
    const varyBefore = varyNames(ctx.response.get('vary'));
    if (background) {
      // A refresh whose handler fails leaves the stale entry in place: logged once per outage, never thrown.
      const failure = await runGuarded(ctx, next, rule.originTimeout);
      if (failure !== null) return originOutages.failed(rule, failure.reason, 'background refresh');
    } else if (fallback || (cached === undefined && rule.staleIfError > 0)) {
      // `fallback`: an entry that expired within staleIfError stands in for a failing handler.
      // Without one because the read failed (slower than readTimeout on a loaded instance, or
      // Redis failing for a moment), a handler that fails too makes us look once more (bounded the
      // same way): a slow read alone should not turn into the handler's error when a stored entry
      // could answer.
      const headersBefore = new Set(Object.keys(ctx.response.headers));
      const failure = await runGuarded(ctx, next, fallback ? rule.originTimeout : null);
      if (failure !== null) {
        const standIn = fallback ?? (await storedWithinStaleIfError(key, rule));
        if (standIn) {
          originOutages.failed(rule, failure.reason);
          // Drop what the failed handler set (headers set before the cache ran stay), then answer from the entry.
          for (const name of Object.keys(ctx.response.headers)) if (!headersBefore.has(name)) ctx.remove(name);
          serve(ctx, standIn, 'STALE-IF-ERROR', rule);
          return;
        }
        if (failure.thrown) throw failure.thrown.error;
      }
    } else {
      await next();
    }
    if (ctx.status < 500) originOutages.ok(rule);
    const body = varyCovered(ctx, varyBefore, covered, caller) ? storableBody(ctx, options.maxBodyBytes) : null;
    if (body === null) return;
    const headers: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const value = ctx.response.get(name);
      if (value) headers[name] = String(value);
    }
    // etag: false stores none ('') and sends none, so a hit never answers 304.
    const etag = options.etag ? String(ctx.response.get('etag') || `"${createHash('sha1').update(body).digest('base64url')}"`) : '';
    if (etag) ctx.set('ETag', etag);
    cdnHeaders(ctx, rule);
    if (generation !== undefined) {
      const meta: EntryMeta = { v: 1, s: ctx.status, h: headers, e: etag, t: now() };
      // On a Cluster a read checks a young entry against these (CacheStore.write, #unpurged).
      if (store.isCluster && rule.tags.length > 0) Object.assign(meta, { g: generation, k: [...rule.tags] });
      // Kept past maxAge for the stale windows; freshness is judged from `t` on read.
      await store.write(key, encodeEntry(meta, body), rule.maxAge + Math.max(rule.staleWhileRevalidate, rule.staleIfError), rule.tags, generation);
    }
    if (etag && ctx.status === 200 && etagMatches(ctx.get('if-none-match'), etag)) ctx.status = 304;
  }

  /**
   * Refresh a stale entry in the background, once across instances: take the entry's fill lock
   * (the one coalescing uses), look again (another instance may have refreshed it meanwhile), then
   * run the request anew through the app (a copy of it with no body and no conditional headers,
   * answered into the void); its response replaces the entry. Never throws.
   */
  function startRefresh(ctx: Context, key: string, storedAt: number): void {
    if (refreshing.has(key)) return;
    refreshing.add(key);
    const app = ctx.app;
    const method = ctx.method;
    const url = ctx.originalUrl;
    const headers = { ...ctx.req.headers };
    for (const h of ['if-none-match', 'if-modified-since', 'content-length', 'transfer-encoding', 'expect']) delete headers[h];
    void (async () => {
      const token = await store.lock(key, options.lockTTL);
      if (!token) return; // another request refreshes it (or Redis failed: the next stale read tries again)
      try {
        const late = await store.read(key);
        if (!late || late.meta.t !== storedAt) return; // refreshed, or purged (purged means gone: the next request fills it), meanwhile
        counters.refreshes++;
        await replay(app, method, url, headers, { owner: handle, key });
      } finally {
        await store.unlock(key, token);
      }
    })()
      .catch((err: unknown) => log.warn(`background refresh of ${key.slice(options.prefix.length + 2)} failed: ${(err as Error).message}`))
      .finally(() => refreshing.delete(key));
  }

  function serve(ctx: Context, { meta, body }: CachedResponse, state: 'HIT' | 'STALE' | 'STALE-IF-ERROR', rule: ResolvedRule): void {
    if (state === 'HIT') counters.hits++;
    else if (state === 'STALE') counters.stale++;
    else counters.staleIfError++;
    ctx.status = meta.s;
    for (const [name, value] of Object.entries(meta.h)) ctx.set(name, value);
    ctx.set('Age', String(Math.max(0, Math.floor((now() - meta.t) / 1000))));
    if (options.xCache) ctx.set('X-Cache', state);
    cdnHeaders(ctx, rule);
    // An entry stored with etag: false has none; one stored with an ETag is served without it when etag is now off.
    if (!options.etag || !meta.e) {
      ctx.body = body;
      return;
    }
    ctx.set('ETag', meta.e);
    if (etagMatches(ctx.get('if-none-match'), meta.e)) {
      ctx.status = 304;
      return;
    }
    ctx.body = body;
  }
  return Object.assign(fn, { cache: handle });
}
