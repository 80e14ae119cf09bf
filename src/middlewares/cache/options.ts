/**
 * Options of the response cache (`responseCache()`, `plugin::redis.cache`): one zod schema, built
 * with src/core/schema.ts like every option set of the suite, gives the input type users write
 * (`ResponseCacheOptions`), the defaults (`CACHE_DEFAULTS` and the docs tables are read from it),
 * and every error message: path, value (secrets, `purgeWebhook` headers and URLs masked), what is
 * expected, a "did you mean" for an unknown key. The resolved, frozen form the middleware runs on
 * is derived from its output. Validated once, in the factory; never per request. Milliseconds
 * everywhere.
 *
 * The rules (`contentTypes[]` / `routes[]`) are in rules.ts, the option groups (`coalesce`, `cdn`,
 * `purgeWebhook`, `honorRequestCacheControl`) in option-groups.ts; this file documents each
 * top-level option once, beside its schema.
 */
import type { RedisClient } from '../../core/client.js';
import type { ConfigIssue } from '../../core/errors.js';
import type { RedisLogger } from '../../core/logger.js';
import { MASK } from '../../core/redact.js';
import type { ConnectionRegistry } from '../../core/resolve.js';
import { always, bool, checked, collectIssues, fn, isPlainObject, jsonValue, ms, options, str, z, type RenderValue } from '../../core/schema.js';
import { CacheConfigError } from './errors.js';
import {
  cdnSchema,
  coalesceSchema,
  count,
  honorSchema,
  purgeWebhookSchema,
  purgeWebhookShape,
  toggle,
  type ResolvedCdn,
  type ResolvedPurgeWebhook,
} from './option-groups.js';
import { checkContentTypes, compileRule, isStringList, ruleList, stringList, type CacheRuleInput, type ResolvedRule, type RuleHost } from './rules.js';

export { CacheConfigError } from './errors.js';
export type { CdnInput, CoalesceInput, PurgeWebhookInput, ResolvedCdn, ResolvedPurgeWebhook } from './option-groups.js';
export { compilePath, contentTypeTag, schemaHash } from './rules.js';
export type { CacheRuleInput, ContentTypeInfo, ResolvedRule } from './rules.js';

/** A warm-up target: a path (with its query), or an http(s) URL whose host becomes the request's `Host`. */
function warmTarget(value: string): { path: string; host: string } | null {
  if (value.startsWith('/')) return { path: value, host: '' };
  try {
    const u = new URL(value);
    if (u.protocol === 'http:' || u.protocol === 'https:') return { path: `${u.pathname}${u.search}`, host: u.host };
  } catch {
    // not a URL
  }
  return null;
}

export const cacheShape = {
  /** A connection name under the plugin config's `connections` (Strapi) or in `registry` (Koa). @default 'default' */
  connection: z.custom<string>().optional(),
  /** Plain Koa: the registry from `createRedisRegistry()` that holds `connection`. */
  registry: z.custom<ConnectionRegistry>().optional(),
  /** Plain Koa: a raw ioredis client (`Redis` or `Cluster`) instead of a registry. */
  client: z.custom<RedisClient>().optional(),
  /** Strapi: content types to cache: UIDs, or rules with a `contentType`. */
  contentTypes: ruleList<string | CacheRuleInput>(true, 'an array of content type UIDs or rules').default([]),
  /** Path rules (plain Koa, or custom Strapi routes). */
  routes: ruleList<string | RegExp | CacheRuleInput>(false, 'an array of path patterns or rules').default([]),
  /** Default time to live of an entry, in ms. */
  maxAge: ms(1).default(60_000),
  /** Key prefix for entries, tag sets and generations. */
  prefix: str("a non-empty string like 'cache:'", true).default('cache:'),
  /** Request headers whose values become part of the key (lower-case names). */
  keyHeaders: stringList().default(['accept-language']),
  /**
   * Key entries by the host the app sees (Koa `ctx.host`: the `Host` header, or `X-Forwarded-Host`
   * behind a proxy with `app.proxy` / Strapi's `server.proxy`), so an app served under several
   * hostnames never answers one host with another's body. @default true (`responseCache()`),
   * false (`plugin::redis.cache` in Strapi, whose REST responses do not depend on the host)
   */
  keyHost: bool().optional(),
  /** When set, only these query parameters form the key; any other parameter is ignored (e.g. `utm_source`). @default every parameter */
  queryKeys: stringList().optional(),
  /**
   * Key entries by the caller (users-permissions user id from `ctx.state.user`, API token id from
   * `ctx.state.auth.credentials.id`; never the credential). Without it, a request carrying
   * `Authorization` or `Cookie` bypasses the cache.
   */
  byCaller: bool('a boolean').default(false),
  /** Largest body stored, in bytes. */
  maxBodyBytes: count(0, 'bytes').default(1_048_576),
  /** Bound on the cache read, in ms: slower is a miss. */
  readTimeout: ms(1).default(50),
  /** Bound on each write and purge command, in ms. @default the connection's requestTimeout */
  writeTimeout: ms(1).optional(),
  /** Keys longer than this (in characters, prefix included) are replaced by their SHA-256. */
  maxKeyLength: count(64, 'characters').default(200),
  /** Where warnings go outside Strapi. @default console (Strapi: strapi.log) */
  logger: z.custom<RedisLogger>().optional(),
  /** `false` turns the middleware into a pass-through. */
  enabled: bool('a boolean').default(true),
  /** Send an `ETag` (the handler's, or a SHA-1 of the body) and answer a matching `If-None-Match` with 304. */
  etag: bool().default(true),
  /** Send `X-Cache: HIT | MISS | BYPASS`. */
  xCache: bool().default(true),
  /**
   * Coalesce concurrent misses of one key, across instances: the first takes a short fill lock
   * and runs the handler; the others poll for its entry (bounded) instead of running the handler
   * too. `true` uses the defaults.
   */
  coalesce: toggle(coalesceSchema, 'a boolean or { lockTTL, maxWait, pollInterval }'),
  /**
   * After `maxAge`, keep serving an entry for this long (`X-Cache: STALE`) while one request,
   * across all instances (the fill lock), refreshes it in the background. Entries are stored for
   * `maxAge` plus the longer of this and `staleIfError`. `0` = off. Per rule too.
   */
  staleWhileRevalidate: ms(0).default(0),
  /**
   * When the handler throws, answers 5xx or passes `originTimeout`, serve an entry that expired
   * less than this long ago instead (`X-Cache: STALE-IF-ERROR`). `0` = off. Per rule too.
   */
  staleIfError: ms(0).default(0),
  /**
   * With `staleIfError` and a stored entry to fall back on: how long the handler may take before
   * the stored entry is served instead (the handler goes on; its answer is dropped). @default none
   */
  originTimeout: ms(1).optional(),
  /** The clock entries are stored and judged by, ms since the epoch (tests inject one). @default Date.now */
  now: fn<() => number>('a function returning ms since the epoch').optional(),
  /**
   * Headers for a CDN in front (opt-in): `Cache-Control` from the rule and a header listing the
   * entry's tags, on every answer from or into the cache (HIT, STALE, STALE-IF-ERROR, a stored
   * MISS). `true` uses the defaults.
   */
  cdn: toggle(cdnSchema, 'true, false or { cacheControl, browserMaxAge, tagsHeader }'),
  /**
   * Called after every purge this cache runs (a write, the service, the endpoint), with the tags
   * purged and the cache keys removed (`GET /path?query|...`, without the prefix). Not awaited:
   * a slow or failing hook never delays the write; its errors are logged. @default none
   */
  onPurge: fn<(tags: string[], keys: string[]) => void | Promise<void>>('a function (tags, keys) => void').optional(),
  /** A built-in `onPurge` that tells a CDN over HTTP (retried, bounded, never blocking). @default none */
  purgeWebhook: purgeWebhookSchema.optional(),
  /**
   * Strapi, global middleware list: serve `POST /api/redis-cache/purge` (`{ tags | contentTypes |
   * all }`), for callers with the `plugin::redis.cache-purge.purge` permission (an API token scope).
   * Off: the route does not exist (404).
   */
  purgeEndpoint: bool().default(false),
  /**
   * Honour a request's `Cache-Control`: `no-cache` runs the handler and refreshes the entry,
   * `no-store` bypasses the cache. Rate-limited: at most one honoured directive per entry key per
   * `interval` ms across instances (a `SET NX PX` in Redis); past it, or when Redis fails, the
   * directive is ignored and the request is served as usual. `true` uses the defaults.
   */
  honorRequestCacheControl: toggle(honorSchema, 'true, false or { interval }'),
  /**
   * Paths to fill after boot (Strapi) and after every purge of their tags, one at a time, each at
   * most once at a time across instances (a lock), each bounded by `warmTimeout`; a path already
   * fresh is not run. A path (`/api/articles?sort=title`), or a full URL whose host becomes the
   * request's `Host` (for `keyHost`). Also `cache.warm()` / the service's `warm()`.
   */
  warm: checked<string[]>((v, report) => {
    if (!isStringList(v)) return report([], v, 'an array of non-empty strings');
    v.forEach((w, i) => {
      if (!warmTarget(w)) report([i], w, "a path starting with '/' or an http(s) URL");
    });
  }).default([]),
  /** Bound on each warm-up request, ms. */
  warmTimeout: ms(1).default(10_000),
};

const cacheObject = options(cacheShape);

/** The options of `responseCache()` / `plugin::redis.cache`, from the schema. */
export type ResponseCacheOptions = z.input<z.ZodObject<typeof cacheShape>>;

/** How the options are checked: the root of every path in errors, and (Strapi) the app's content types. */
export interface CacheOptionsContext extends RuleHost {
  /** The first part of every path in errors. @default 'options' (`config` in Strapi) */
  root?: string;
  /** The default of `keyHost`. @default true */
  keyHostDefault?: boolean;
}

/** The schema of the cache options in a given app: its content types are checked in the same pass. */
export function cacheSchema(host: RuleHost = {}) {
  return z.preprocess(
    (v) => v ?? {},
    always(options(cacheShape, { expected: 'an object' }), (raw, report) => checkContentTypes(raw, host, report)),
  );
}

/** Values as the cache's messages always showed them (JSON, a RegExp as written), secrets masked. */
const cacheValue: RenderValue = (value, key) => {
  if (value instanceof RegExp) return String(value);
  // webhook header values and URLs may be credentials: their shape is shown, never their text
  if (key === 'headers') {
    const shown = isPlainObject(value) ? Object.fromEntries(Object.keys(value).map((k) => [k, MASK])) : value === undefined || value === null ? value : MASK;
    return jsonValue(shown, key);
  }
  if (key === 'urls') {
    const mask = (u: unknown) => (typeof u === 'string' && u !== '' ? MASK : u);
    return jsonValue(Array.isArray(value) ? value.map(mask) : mask(value), key);
  }
  return jsonValue(value, key);
};

export interface ResolvedCacheOptions {
  readonly rules: readonly ResolvedRule[];
  readonly prefix: string;
  readonly keyHost: boolean;
  readonly keyHeaders: readonly string[];
  readonly queryKeys: ReadonlySet<string> | null;
  readonly maxBodyBytes: number;
  readonly readTimeout: number;
  readonly writeTimeout: number | undefined;
  readonly maxKeyLength: number;
  readonly enabled: boolean;
  readonly etag: boolean;
  readonly xCache: boolean;
  /** Miss coalescing, or null when off. */
  readonly coalesce: Readonly<{ lockTTL: number; maxWait: number; pollInterval: number }> | null;
  /** Every tag any rule uses (purge-all purges these). */
  readonly tags: readonly string[];
  /** Fill (and background refresh) lock TTL, ms: `coalesce.lockTTL`, or its default. */
  readonly lockTTL: number;
  readonly now: () => number;
  /** CDN headers, or null when off. */
  readonly cdn: ResolvedCdn | null;
  readonly onPurge: ((tags: string[], keys: string[]) => void | Promise<void>) | null;
  readonly purgeWebhook: ResolvedPurgeWebhook | null;
  readonly purgeEndpoint: boolean;
  /** Request directives honoured at most once per key per `interval` ms, or null when off. */
  readonly honorRequestCacheControl: Readonly<{ interval: number }> | null;
  /** Warm-up requests: path (with query) and host ('' = none). */
  readonly warm: ReadonlyArray<Readonly<{ path: string; host: string }>>;
  readonly warmTimeout: number;
}

const frozen = <T extends object>(value: T | false | undefined): Readonly<T> | null => (value ? Object.freeze({ ...value }) : null);

/** The parsed options, turned into what the middleware runs on. */
function toResolved(parsed: z.output<typeof cacheObject>, host: CacheOptionsContext): ResolvedCacheOptions {
  const inherit = {
    maxAge: parsed.maxAge,
    byCaller: parsed.byCaller,
    staleWhileRevalidate: parsed.staleWhileRevalidate,
    staleIfError: parsed.staleIfError,
    originTimeout: parsed.originTimeout ?? null,
  };
  const rules = [...parsed.contentTypes, ...parsed.routes].map((rule) => compileRule(rule, inherit, host));
  const coalesce = frozen(parsed.coalesce);
  const webhook = parsed.purgeWebhook;
  return Object.freeze({
    rules: Object.freeze(rules),
    prefix: parsed.prefix,
    keyHost: parsed.keyHost ?? host.keyHostDefault ?? true,
    keyHeaders: Object.freeze(parsed.keyHeaders.map((h) => h.toLowerCase()).sort()),
    queryKeys: parsed.queryKeys ? new Set(parsed.queryKeys) : null,
    maxBodyBytes: parsed.maxBodyBytes,
    readTimeout: parsed.readTimeout,
    writeTimeout: parsed.writeTimeout,
    maxKeyLength: parsed.maxKeyLength,
    enabled: parsed.enabled,
    etag: parsed.etag,
    xCache: parsed.xCache,
    coalesce,
    tags: Object.freeze([...new Set(rules.flatMap((r) => r.tags))]),
    lockTTL: coalesce?.lockTTL ?? CACHE_DEFAULTS.coalesce.lockTTL,
    now: parsed.now ?? (() => Date.now()),
    cdn: frozen(parsed.cdn),
    onPurge: parsed.onPurge ?? null,
    purgeWebhook: webhook ? Object.freeze({ ...webhook, urls: Object.freeze([...webhook.urls]), headers: Object.freeze({ ...webhook.headers }) }) : null,
    purgeEndpoint: parsed.purgeEndpoint,
    honorRequestCacheControl: frozen(parsed.honorRequestCacheControl),
    warm: Object.freeze(parsed.warm.map((w) => Object.freeze(warmTarget(w)!))),
    warmTimeout: parsed.warmTimeout,
  });
}

/** The defaults, read from the schema (an option group's are what `true` means). */
export const CACHE_DEFAULTS = (() => {
  const d = cacheObject.parse({});
  const webhook = z.object(purgeWebhookShape).omit({ urls: true }).parse({});
  return Object.freeze({
    maxAge: d.maxAge,
    prefix: d.prefix,
    keyHeaders: Object.freeze([...d.keyHeaders]) as readonly string[],
    byCaller: d.byCaller,
    maxBodyBytes: d.maxBodyBytes,
    readTimeout: d.readTimeout,
    maxKeyLength: d.maxKeyLength,
    coalesce: Object.freeze(coalesceSchema.parse({})),
    staleWhileRevalidate: d.staleWhileRevalidate,
    staleIfError: d.staleIfError,
    /** No origin timeout. */
    originTimeout: null as number | null,
    cdn: Object.freeze(cdnSchema.parse({})),
    purgeWebhook: Object.freeze({ ...webhook, headers: Object.freeze({ ...webhook.headers }) as Readonly<Record<string, string>> }),
    honorRequestCacheControl: Object.freeze(honorSchema.parse({})),
    warm: Object.freeze([...d.warm]) as readonly string[],
    warmTimeout: d.warmTimeout,
  });
})();

/** Check the options: their resolved form, or every problem found (paths from `host.root`). */
export function checkCacheOptions(
  input: unknown,
  host: CacheOptionsContext = {},
): { ok: true; value: ResolvedCacheOptions } | { ok: false; issues: ConfigIssue[] } {
  const result = collectIssues(cacheSchema(host), input, host.root ?? 'options', cacheValue);
  return result.ok ? { ok: true, value: toResolved(result.value, host) } : result;
}

/**
 * Validate and resolve once. `where` names what was configured in the error's first line
 * (`options of responseCache()`, `config of plugin::redis.cache`). Throws `CacheConfigError`
 * listing every problem.
 */
export function resolveCacheOptions(input: unknown, where: string, host: CacheOptionsContext = {}): ResolvedCacheOptions {
  const result = checkCacheOptions(input, host);
  if (!result.ok) throw new CacheConfigError(where, result.issues);
  return result.value;
}
