/**
 * Options of the response cache: what users write (`ResponseCacheOptions`), the defaults, and the
 * resolved, frozen form the middleware uses. Validated once, in the factory; every error names the
 * option path, the value it got and what is expected. Milliseconds everywhere.
 *
 * Longer than 350 lines, and the last option set still validated by hand (`fail()`, one place per
 * option with its default in CACHE_DEFAULTS): it is to move to one zod schema like the others
 * (src/core/schema.ts), which will also make CacheConfigError a RedisSuiteConfigError.
 */
import { createHash } from 'node:crypto';
import type { RedisLogger } from '../../core/logger.js';
import type { ConnectionSource } from '../../core/resolve.js';

/** One cached route: a path pattern, or (Strapi) a content type whose REST find/findOne routes are cached. */
export interface CacheRuleInput {
  /** Strapi: a content type UID (`api::article.article`): caches `GET <rest prefix>/<pluralName>` and `.../:id` (single types: `/<singularName>`). */
  contentType?: string;
  /** A path pattern: `/api/articles`, `/api/articles/:id`, `/docs/*` (a trailing `*` matches the rest), or a RegExp on the path. */
  path?: string | RegExp;
  /** Time to live of entries of this rule, in ms. @default the top-level `maxAge` */
  maxAge?: number;
  /** Extra invalidation tags the entries join (a write purging one of them removes the entry). */
  tags?: string[];
  /** Strapi: other content types whose writes also purge this rule's entries (e.g. a populated relation). */
  relatedContentTypes?: string[];
  /** Override the top-level `byCaller` for this rule. */
  byCaller?: boolean;
  /** Override the top-level `staleWhileRevalidate` for this rule (ms). */
  staleWhileRevalidate?: number;
  /** Override the top-level `staleIfError` for this rule (ms). */
  staleIfError?: number;
  /** Override the top-level `originTimeout` for this rule (ms). */
  originTimeout?: number;
}

export interface ResponseCacheOptions extends ConnectionSource {
  /** Strapi: content types to cache: UIDs, or rules with a `contentType`. */
  contentTypes?: Array<string | CacheRuleInput>;
  /** Path rules (plain Koa, or custom Strapi routes). */
  routes?: Array<string | RegExp | CacheRuleInput>;
  /** Default time to live of an entry, in ms. @default 60_000 */
  maxAge?: number;
  /** Key prefix for entries, tag sets and generations. @default 'cache:' */
  prefix?: string;
  /** Request headers whose values become part of the key (lower-case names). @default ['accept-language'] */
  keyHeaders?: string[];
  /**
   * Key entries by the host the app sees (Koa `ctx.host`: the `Host` header, or `X-Forwarded-Host`
   * behind a proxy with `app.proxy` / Strapi's `server.proxy`), so an app served under several
   * hostnames never answers one host with another's body. @default true (`responseCache()`),
   * false (`plugin::redis.cache` in Strapi, whose REST responses do not depend on the host)
   */
  keyHost?: boolean;
  /** When set, only these query parameters form the key; any other parameter is ignored (e.g. `utm_source`). @default every parameter */
  queryKeys?: string[];
  /**
   * Key entries by the caller (users-permissions user id from `ctx.state.user`, API token id from
   * `ctx.state.auth.credentials.id`; never the credential). Without it, a request carrying
   * `Authorization` or `Cookie` bypasses the cache. @default false
   */
  byCaller?: boolean;
  /** Largest body stored, in bytes. @default 1_048_576 */
  maxBodyBytes?: number;
  /** Bound on the cache read, in ms: slower is a miss. @default 50 */
  readTimeout?: number;
  /** Bound on each write and purge command, in ms. @default the connection's requestTimeout */
  writeTimeout?: number;
  /** Keys longer than this (in characters, prefix included) are replaced by their SHA-256. @default 200 */
  maxKeyLength?: number;
  /** Where warnings go outside Strapi. @default console (Strapi: strapi.log) */
  logger?: RedisLogger;
  /** `false` turns the middleware into a pass-through. @default true */
  enabled?: boolean;
  /** Send an `ETag` (the handler's, or a SHA-1 of the body) and answer a matching `If-None-Match` with 304. @default true */
  etag?: boolean;
  /** Send `X-Cache: HIT | MISS | BYPASS`. @default true */
  xCache?: boolean;
  /**
   * Coalesce concurrent misses of one key, across instances: the first takes a short fill lock
   * and runs the handler; the others poll for its entry (bounded) instead of running the handler
   * too. `true` uses the defaults. @default false
   */
  coalesce?: boolean | CoalesceInput;
  /**
   * After `maxAge`, keep serving an entry for this long (`X-Cache: STALE`) while one request,
   * across all instances (the fill lock), refreshes it in the background. Entries are stored for
   * `maxAge` plus the longer of this and `staleIfError`. `0` = off. Per rule too. @default 0
   */
  staleWhileRevalidate?: number;
  /**
   * When the handler throws, answers 5xx or passes `originTimeout`, serve an entry that expired
   * less than this long ago instead (`X-Cache: STALE-IF-ERROR`). `0` = off. Per rule too. @default 0
   */
  staleIfError?: number;
  /**
   * With `staleIfError` and a stored entry to fall back on: how long the handler may take before
   * the stored entry is served instead (the handler goes on; its answer is dropped). @default none
   */
  originTimeout?: number;
  /** The clock entries are stored and judged by, ms since the epoch (tests inject one). @default Date.now */
  now?: () => number;
  /**
   * Headers for a CDN in front (opt-in): `Cache-Control` from the rule and a header listing the
   * entry's tags, on every answer from or into the cache (HIT, STALE, STALE-IF-ERROR, a stored
   * MISS). `true` uses the defaults. @default false
   */
  cdn?: boolean | CdnInput;
  /**
   * Called after every purge this cache runs (a write, the service, the endpoint), with the tags
   * purged and the cache keys removed (`GET /path?query|...`, without the prefix). Not awaited:
   * a slow or failing hook never delays the write; its errors are logged. @default none
   */
  onPurge?: (tags: string[], keys: string[]) => void | Promise<void>;
  /** A built-in `onPurge` that tells a CDN over HTTP (retried, bounded, never blocking). @default none */
  purgeWebhook?: PurgeWebhookInput;
  /**
   * Strapi, global middleware list: serve `POST /api/redis-cache/purge` (`{ tags | contentTypes |
   * all }`), for callers with the `plugin::redis.cache-purge.purge` permission (an API token scope).
   * Off: the route does not exist (404). @default false
   */
  purgeEndpoint?: boolean;
  /**
   * Honour a request's `Cache-Control`: `no-cache` runs the handler and refreshes the entry,
   * `no-store` bypasses the cache. Rate-limited: at most one honoured directive per entry key per
   * `interval` ms across instances (a `SET NX PX` in Redis); past it, or when Redis fails, the
   * directive is ignored and the request is served as usual. `true` uses the defaults. @default false
   */
  honorRequestCacheControl?: boolean | { interval?: number };
  /**
   * Paths to fill after boot (Strapi) and after every purge of their tags, one at a time, each at
   * most once at a time across instances (a lock), each bounded by `warmTimeout`; a path already
   * fresh is not run. A path (`/api/articles?sort=title`), or a full URL whose host becomes the
   * request's `Host` (for `keyHost`). Also `cache.warm()` / the service's `warm()`. @default []
   */
  warm?: string[];
  /** Bound on each warm-up request, ms. @default 10_000 */
  warmTimeout?: number;
}

export interface CdnInput {
  /** Send `Cache-Control: public, max-age, s-maxage, stale-while-revalidate, stale-if-error` (seconds, from the rule). @default true */
  cacheControl?: boolean;
  /** The browser's `max-age` in ms (a browser copy cannot be purged; `s-maxage` is the rule's `maxAge`). @default 0 */
  browserMaxAge?: number;
  /** The header listing the entry's tags: `'Surrogate-Key'` (space-separated), `'Cache-Tag'` (comma-separated), another name (space-separated), or `false`. @default 'Surrogate-Key' */
  tagsHeader?: string | false;
}

export interface PurgeWebhookInput {
  /** URLs to call on every purge (each its own delivery). Placeholders as in `body`, URL-encoded. */
  urls: string[];
  /** @default 'POST' */
  method?: string;
  /** Request headers (values may hold placeholders). @default { 'content-type': 'application/json' } */
  headers?: Record<string, string>;
  /**
   * The request body. Placeholders: `{{tags}}` / `{{keys}}` (JSON arrays), `{{tags.space}}`,
   * `{{tags.comma}}`, `{{keys.space}}`, `{{keys.comma}}`. @default '{"tags":{{tags}},"keys":{{keys}}}'
   */
  body?: string;
  /** Attempts after the first, for a network error, a timeout, 429 or 5xx. @default 3 */
  retries?: number;
  /** Delay before the first retry, ms; doubled for each next one. @default 500 */
  backoff?: number;
  /** Bound on each attempt, ms. @default 5_000 */
  timeout?: number;
  /** Deliveries queued or running at most; more are dropped (counted, one warning per overflow). @default 100 */
  maxPending?: number;
  /** Deliveries in flight at once. @default 4 */
  concurrency?: number;
  /** Most keys listed per delivery (tags are always all listed). @default 1_000 */
  maxKeys?: number;
}

export interface CoalesceInput {
  /** Fill lock TTL in ms (a filler that dies frees the key after it). @default 10_000 */
  lockTTL?: number;
  /** Longest a waiter waits for the fill before it runs the handler itself, in ms. @default 1_000 */
  maxWait?: number;
  /** Poll interval in ms. @default 25 */
  pollInterval?: number;
}

export const CACHE_DEFAULTS = Object.freeze({
  maxAge: 60_000,
  prefix: 'cache:',
  keyHeaders: Object.freeze(['accept-language']) as readonly string[],
  byCaller: false,
  maxBodyBytes: 1_048_576,
  readTimeout: 50,
  maxKeyLength: 200,
  coalesce: Object.freeze({ lockTTL: 10_000, maxWait: 1_000, pollInterval: 25 }),
  staleWhileRevalidate: 0,
  staleIfError: 0,
  /** No origin timeout. */
  originTimeout: null as number | null,
  cdn: Object.freeze({ cacheControl: true, browserMaxAge: 0, tagsHeader: 'Surrogate-Key' as string | false }),
  purgeWebhook: Object.freeze({
    method: 'POST',
    headers: Object.freeze({ 'content-type': 'application/json' }) as Readonly<Record<string, string>>,
    body: '{"tags":{{tags}},"keys":{{keys}}}',
    retries: 3,
    backoff: 500,
    timeout: 5_000,
    maxPending: 100,
    concurrency: 4,
    maxKeys: 1_000,
  }),
  honorRequestCacheControl: Object.freeze({ interval: 1_000 }),
  warm: Object.freeze([]) as readonly string[],
  warmTimeout: 10_000,
});

export interface ResolvedCdn {
  readonly cacheControl: boolean;
  readonly browserMaxAge: number;
  readonly tagsHeader: string | false;
}

export interface ResolvedPurgeWebhook {
  readonly urls: readonly string[];
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly retries: number;
  readonly backoff: number;
  readonly timeout: number;
  readonly maxPending: number;
  readonly concurrency: number;
  readonly maxKeys: number;
}

export interface ResolvedRule {
  /** Human-readable origin, for logs. */
  readonly label: string;
  readonly matches: (path: string) => boolean;
  readonly maxAge: number;
  readonly tags: readonly string[];
  readonly byCaller: boolean;
  /** ms after maxAge an entry is served STALE while it is refreshed; 0 = off. */
  readonly staleWhileRevalidate: number;
  /** ms after maxAge an entry may stand in for a failing handler; 0 = off. */
  readonly staleIfError: number;
  /** ms the handler may take when a stored entry can stand in for it; null = no bound. */
  readonly originTimeout: number | null;
  /** Strapi: the schema hash of the content types the rule depends on (part of its keys), or null. */
  readonly schema: string | null;
}

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

/** What the Strapi factory knows about content types. */
export interface ContentTypeInfo {
  kind?: string;
  info?: { pluralName?: string; singularName?: string };
  /** The schema's attributes (what a response is built from): part of the schema hash. */
  attributes?: unknown;
  /** The schema's options (draftAndPublish, ...): part of the schema hash. */
  options?: unknown;
}

/** JSON with object keys sorted and functions left out, so equal schemas give equal text on every instance. */
function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return typeof value === 'function' || value === undefined ? 'null' : JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => typeof (value as Record<string, unknown>)[k] !== 'function' && (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/**
 * A short hash (8 hex characters of SHA-256) of the schemas of the content types `uids` (kind,
 * attributes, options), sorted by UID: part of the entry keys of the rules depending on them, so
 * entries built from an older schema are never read after a deploy that changed it.
 */
export function schemaHash(uids: readonly string[], contentTypes: Record<string, ContentTypeInfo | undefined>): string {
  const text = [...new Set(uids)]
    .sort()
    .map((uid) => {
      const ct = contentTypes[uid];
      return `${uid}=${stableJson(ct ? { kind: ct.kind, attributes: ct.attributes, options: ct.options } : null)}`;
    })
    .join('\n');
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

export class CacheConfigError extends TypeError {
  override readonly name = 'CacheConfigError';
  readonly code = 'REDIS_SUITE_CACHE_CONFIG';
}

/** Every option the response cache accepts (`CACHE_DEFAULTS` holds the defaults that are constants). */
export const KNOWN = new Set([
  'connection',
  'registry',
  'client',
  'contentTypes',
  'routes',
  'maxAge',
  'prefix',
  'keyHeaders',
  'queryKeys',
  'byCaller',
  'maxBodyBytes',
  'readTimeout',
  'writeTimeout',
  'maxKeyLength',
  'logger',
  'enabled',
  'coalesce',
  'etag',
  'xCache',
  'keyHost',
  'staleWhileRevalidate',
  'staleIfError',
  'originTimeout',
  'now',
  'cdn',
  'onPurge',
  'purgeWebhook',
  'purgeEndpoint',
  'honorRequestCacheControl',
  'warm',
  'warmTimeout',
]);
/** Every option a cache rule (`contentTypes[]` / `routes[]` object) accepts. */
export const RULE_KNOWN = new Set([
  'contentType',
  'path',
  'maxAge',
  'tags',
  'relatedContentTypes',
  'byCaller',
  'staleWhileRevalidate',
  'staleIfError',
  'originTimeout',
]);

/** The tag of a content type (also what the document-service middleware purges). */
export const contentTypeTag = (uid: string): string => `ct:${uid}`;

/** A boolean option (default true). */
function flag(where: string, path: string, value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') fail(where, path, value, 'true or false');
  return value;
}

function fail(where: string, path: string, value: unknown, expected: string): never {
  const got = value instanceof RegExp ? String(value) : JSON.stringify(value);
  throw new CacheConfigError(`${where}: ${path}: got ${got}; expected ${expected}.`);
}

function intMs(where: string, path: string, value: unknown, min: number, unit = 'milliseconds'): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) fail(where, path, value, `an integer number of ${unit} >= ${min}`);
  return value;
}

function stringList(where: string, path: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) fail(where, path, value, 'an array of non-empty strings');
  return value as string[];
}

/** Compile `/api/articles/:id` or `/docs/*` into a matcher (an optional trailing slash is accepted, as Koa's router does). */
export function compilePath(pattern: string): (path: string) => boolean {
  let source = '';
  const wildcard = pattern.endsWith('*');
  const body = wildcard ? pattern.slice(0, -1) : pattern;
  for (const segment of body.split('/')) {
    if (source !== '' || segment !== '') source += '/';
    if (segment.startsWith(':')) source += '[^/]+';
    else source += segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  source = source.replace(/^\/\//, '/');
  const re = wildcard ? new RegExp(`^${source}.*$`) : new RegExp(`^${source.replace(/\/$/, '')}/?$`);
  return (path) => re.test(path);
}

interface ResolveHost {
  /** Strapi content types, by UID. */
  contentTypes?: Record<string, ContentTypeInfo | undefined>;
  /** Strapi's REST prefix. @default '/api' */
  restPrefix?: string;
  /** The default of `keyHost`. @default true */
  keyHostDefault?: boolean;
}

function resolveCdn(where: string, value: unknown): ResolvedCdn | null {
  if (value === undefined || value === false) return null;
  if (value === true) return CACHE_DEFAULTS.cdn;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(where, 'cdn', value, 'true, false or { cacheControl, browserMaxAge, tagsHeader }');
  const options = value as CdnInput;
  for (const k of Object.keys(options))
    if (!['cacheControl', 'browserMaxAge', 'tagsHeader'].includes(k))
      fail(where, `cdn.${k}`, (options as Record<string, unknown>)[k], 'no such option; known: cacheControl, browserMaxAge, tagsHeader');
  const tagsHeader = options.tagsHeader ?? CACHE_DEFAULTS.cdn.tagsHeader;
  if (tagsHeader !== false && (typeof tagsHeader !== 'string' || !/^[A-Za-z0-9-]+$/.test(tagsHeader)))
    fail(where, 'cdn.tagsHeader', options.tagsHeader, "a header name like 'Surrogate-Key' or 'Cache-Tag', or false");
  return Object.freeze({
    cacheControl: options.cacheControl === undefined ? CACHE_DEFAULTS.cdn.cacheControl : flag(where, 'cdn.cacheControl', options.cacheControl),
    browserMaxAge: intMs(where, 'cdn.browserMaxAge', options.browserMaxAge, 0) ?? CACHE_DEFAULTS.cdn.browserMaxAge,
    tagsHeader,
  });
}

function resolveHonor(where: string, value: unknown): ResolvedCacheOptions['honorRequestCacheControl'] {
  if (value === undefined || value === false) return null;
  if (value === true) return CACHE_DEFAULTS.honorRequestCacheControl;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(where, 'honorRequestCacheControl', value, 'true, false or { interval }');
  for (const k of Object.keys(value))
    if (k !== 'interval') fail(where, `honorRequestCacheControl.${k}`, (value as Record<string, unknown>)[k], 'no such option; known: interval');
  return Object.freeze({
    interval:
      intMs(where, 'honorRequestCacheControl.interval', (value as { interval?: unknown }).interval, 1) ?? CACHE_DEFAULTS.honorRequestCacheControl.interval,
  });
}

/** Every option of `purgeWebhook` (`CACHE_DEFAULTS.purgeWebhook` holds the defaults). */
export const WEBHOOK_KNOWN = ['urls', 'method', 'headers', 'body', 'retries', 'backoff', 'timeout', 'maxPending', 'concurrency', 'maxKeys'];

function resolvePurgeWebhook(where: string, value: unknown): ResolvedPurgeWebhook | null {
  if (value === undefined) return null;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(where, 'purgeWebhook', value, '{ urls: [...], method?, headers?, body?, retries?, backoff?, timeout?, maxPending?, concurrency?, maxKeys? }');
  const w = value as PurgeWebhookInput;
  const d = CACHE_DEFAULTS.purgeWebhook;
  for (const k of Object.keys(w))
    if (!WEBHOOK_KNOWN.includes(k))
      fail(where, `purgeWebhook.${k}`, (w as unknown as Record<string, unknown>)[k], `no such option; known: ${WEBHOOK_KNOWN.join(', ')}`);
  const urls = stringList(where, 'purgeWebhook.urls', w.urls);
  if (!urls || urls.length === 0) fail(where, 'purgeWebhook.urls', w.urls, "a non-empty array of http(s) URLs like 'https://cdn.example/purge'");
  urls.forEach((u, i) => {
    let ok: boolean;
    try {
      ok = ['http:', 'https:'].includes(new URL(u.replace(/\{\{[^}]*\}\}/g, 'x')).protocol);
    } catch {
      ok = false;
    }
    // the URL may hold a secret: name its position, not its value
    if (!ok) throw new CacheConfigError(`${where}: purgeWebhook.urls[${i}]: not an http(s) URL; expected a URL like 'https://cdn.example/purge'.`);
  });
  if (w.method !== undefined && (typeof w.method !== 'string' || !/^[A-Z]+$/.test(w.method)))
    fail(where, 'purgeWebhook.method', w.method, "an HTTP method in capitals like 'POST'");
  if (
    w.headers !== undefined &&
    (typeof w.headers !== 'object' || w.headers === null || Array.isArray(w.headers) || Object.values(w.headers).some((v) => typeof v !== 'string'))
  ) {
    // header values may be credentials: never echoed
    throw new CacheConfigError(`${where}: purgeWebhook.headers: expected an object of header names to string values.`);
  }
  if (w.body !== undefined && typeof w.body !== 'string') fail(where, 'purgeWebhook.body', w.body, 'a string template');
  return Object.freeze({
    urls: Object.freeze([...urls]),
    method: w.method ?? d.method,
    headers: Object.freeze({ ...(w.headers ?? d.headers) }),
    body: w.body ?? d.body,
    retries: intMs(where, 'purgeWebhook.retries', w.retries, 0, 'retries') ?? d.retries,
    backoff: intMs(where, 'purgeWebhook.backoff', w.backoff, 0) ?? d.backoff,
    timeout: intMs(where, 'purgeWebhook.timeout', w.timeout, 1) ?? d.timeout,
    maxPending: intMs(where, 'purgeWebhook.maxPending', w.maxPending, 1, 'deliveries') ?? d.maxPending,
    concurrency: intMs(where, 'purgeWebhook.concurrency', w.concurrency, 1, 'deliveries') ?? d.concurrency,
    maxKeys: intMs(where, 'purgeWebhook.maxKeys', w.maxKeys, 0, 'keys') ?? d.maxKeys,
  });
}

/** Validate and resolve once (throws `CacheConfigError` naming the option). */
export function resolveCacheOptions(input: unknown, where: string, host: ResolveHost = {}): ResolvedCacheOptions {
  const options = (input ?? {}) as ResponseCacheOptions;
  if (typeof options !== 'object' || Array.isArray(options)) fail(where, 'config', input, 'an object');
  for (const k of Object.keys(options))
    if (!KNOWN.has(k)) fail(where, k, (options as Record<string, unknown>)[k], `no such option; known options: ${[...KNOWN].join(', ')}`);
  const maxAge = intMs(where, 'maxAge', options.maxAge, 1) ?? CACHE_DEFAULTS.maxAge;
  const defaultByCaller = options.byCaller ?? CACHE_DEFAULTS.byCaller;
  if (typeof defaultByCaller !== 'boolean') fail(where, 'byCaller', options.byCaller, 'a boolean');
  if (options.prefix !== undefined && (typeof options.prefix !== 'string' || options.prefix === ''))
    fail(where, 'prefix', options.prefix, "a non-empty string like 'cache:'");
  if (options.enabled !== undefined && typeof options.enabled !== 'boolean') fail(where, 'enabled', options.enabled, 'a boolean');
  if (options.now !== undefined && typeof options.now !== 'function') fail(where, 'now', options.now, 'a function returning ms since the epoch');
  const staleWhileRevalidate = intMs(where, 'staleWhileRevalidate', options.staleWhileRevalidate, 0) ?? CACHE_DEFAULTS.staleWhileRevalidate;
  const staleIfError = intMs(where, 'staleIfError', options.staleIfError, 0) ?? CACHE_DEFAULTS.staleIfError;
  const originTimeout = intMs(where, 'originTimeout', options.originTimeout, 1) ?? CACHE_DEFAULTS.originTimeout;

  const rules: ResolvedRule[] = [];
  const ruleOf = (raw: string | RegExp | CacheRuleInput, path: string, fromContentTypes: boolean) => {
    const rule: CacheRuleInput =
      typeof raw === 'string' ? (fromContentTypes ? { contentType: raw } : { path: raw }) : raw instanceof RegExp ? { path: raw } : raw;
    if (!rule || typeof rule !== 'object') fail(where, path, raw, 'a string, a RegExp or a rule object');
    for (const k of Object.keys(rule))
      if (!RULE_KNOWN.has(k)) fail(where, `${path}.${k}`, (rule as Record<string, unknown>)[k], `no such option; known: ${[...RULE_KNOWN].join(', ')}`);
    const ttl = intMs(where, `${path}.maxAge`, rule.maxAge, 1) ?? maxAge;
    const byCaller = rule.byCaller ?? defaultByCaller;
    if (typeof byCaller !== 'boolean') fail(where, `${path}.byCaller`, rule.byCaller, 'a boolean');
    const tags = new Set(stringList(where, `${path}.tags`, rule.tags) ?? []);
    const related = stringList(where, `${path}.relatedContentTypes`, rule.relatedContentTypes) ?? [];
    for (const uid of related) tags.add(contentTypeTag(uid));
    const matchers: Array<(p: string) => boolean> = [];
    const labels: string[] = [];
    if (rule.contentType !== undefined) {
      if (typeof rule.contentType !== 'string' || rule.contentType === '')
        fail(where, `${path}.contentType`, rule.contentType, "a content type UID like 'api::article.article'");
      if (!host.contentTypes) fail(where, `${path}.contentType`, rule.contentType, 'a path rule: content types are known only inside Strapi');
      const ct = host.contentTypes[rule.contentType];
      const plural = ct?.info?.pluralName;
      if (!ct || !plural)
        fail(
          where,
          `${path}.contentType`,
          rule.contentType,
          `a content type UID of this app (${
            Object.keys(host.contentTypes)
              .filter((u) => u.startsWith('api::'))
              .join(', ') || 'none found'
          })`,
        );
      const prefix = (host.restPrefix ?? '/api').replace(/\/$/, '');
      if (ct.kind === 'singleType') {
        const singular = ct.info?.singularName ?? plural;
        matchers.push(compilePath(`${prefix}/${singular}`));
        labels.push(`${prefix}/${singular}`);
      } else {
        matchers.push(compilePath(`${prefix}/${plural}`), compilePath(`${prefix}/${plural}/:id`));
        labels.push(`${prefix}/${plural}`, `${prefix}/${plural}/:id`);
      }
      tags.add(contentTypeTag(rule.contentType));
    }
    if (rule.path !== undefined) {
      if (rule.path instanceof RegExp) {
        const re = rule.path;
        matchers.push((p) => {
          re.lastIndex = 0;
          return re.test(p);
        });
      } else if (typeof rule.path === 'string' && rule.path.startsWith('/')) {
        matchers.push(compilePath(rule.path));
      } else {
        fail(where, `${path}.path`, rule.path, "a path pattern starting with '/' (e.g. '/api/articles/:id') or a RegExp");
      }
      labels.push(String(rule.path));
      if (rule.contentType === undefined && tags.size === 0) tags.add(`route:${String(rule.path)}`);
    }
    if (matchers.length === 0) fail(where, path, raw, 'a rule with `contentType` or `path`');
    rules.push(
      Object.freeze({
        label: labels.join(' '),
        matches: (p: string) => matchers.some((m) => m(p)),
        maxAge: ttl,
        tags: Object.freeze([...tags]),
        byCaller,
        staleWhileRevalidate: intMs(where, `${path}.staleWhileRevalidate`, rule.staleWhileRevalidate, 0) ?? staleWhileRevalidate,
        staleIfError: intMs(where, `${path}.staleIfError`, rule.staleIfError, 0) ?? staleIfError,
        originTimeout: intMs(where, `${path}.originTimeout`, rule.originTimeout, 1) ?? originTimeout,
        schema:
          host.contentTypes && (rule.contentType !== undefined || related.length > 0)
            ? schemaHash([...(rule.contentType ? [rule.contentType] : []), ...related], host.contentTypes)
            : null,
      }),
    );
  };
  if (options.contentTypes !== undefined && !Array.isArray(options.contentTypes))
    fail(where, 'contentTypes', options.contentTypes, 'an array of content type UIDs or rules');
  if (options.routes !== undefined && !Array.isArray(options.routes)) fail(where, 'routes', options.routes, 'an array of path patterns or rules');
  (options.contentTypes ?? []).forEach((r, i) => ruleOf(r, `contentTypes[${i}]`, true));
  (options.routes ?? []).forEach((r, i) => ruleOf(r, `routes[${i}]`, false));

  const keyHeaders = (stringList(where, 'keyHeaders', options.keyHeaders) ?? [...CACHE_DEFAULTS.keyHeaders]).map((h) => h.toLowerCase()).sort();
  const queryKeys = stringList(where, 'queryKeys', options.queryKeys);
  const maxKeyLength = intMs(where, 'maxKeyLength', options.maxKeyLength, 64, 'characters') ?? CACHE_DEFAULTS.maxKeyLength;
  const allTags = new Set(rules.flatMap((r) => r.tags));
  let coalesce: ResolvedCacheOptions['coalesce'] = null;
  if (options.coalesce === true) coalesce = CACHE_DEFAULTS.coalesce;
  else if (options.coalesce && typeof options.coalesce === 'object') {
    const config = options.coalesce;
    for (const k of Object.keys(config))
      if (!['lockTTL', 'maxWait', 'pollInterval'].includes(k))
        fail(where, `coalesce.${k}`, (config as Record<string, unknown>)[k], 'no such option; known: lockTTL, maxWait, pollInterval');
    coalesce = Object.freeze({
      lockTTL: intMs(where, 'coalesce.lockTTL', config.lockTTL, 1) ?? CACHE_DEFAULTS.coalesce.lockTTL,
      maxWait: intMs(where, 'coalesce.maxWait', config.maxWait, 0) ?? CACHE_DEFAULTS.coalesce.maxWait,
      pollInterval: intMs(where, 'coalesce.pollInterval', config.pollInterval, 1) ?? CACHE_DEFAULTS.coalesce.pollInterval,
    });
  } else if (options.coalesce !== undefined && options.coalesce !== false)
    fail(where, 'coalesce', options.coalesce, 'a boolean or { lockTTL, maxWait, pollInterval }');
  return Object.freeze({
    rules: Object.freeze(rules),
    prefix: options.prefix ?? CACHE_DEFAULTS.prefix,
    keyHost: options.keyHost === undefined ? (host.keyHostDefault ?? true) : flag(where, 'keyHost', options.keyHost),
    keyHeaders: Object.freeze(keyHeaders),
    queryKeys: queryKeys ? new Set(queryKeys) : null,
    maxBodyBytes: intMs(where, 'maxBodyBytes', options.maxBodyBytes, 0, 'bytes') ?? CACHE_DEFAULTS.maxBodyBytes,
    readTimeout: intMs(where, 'readTimeout', options.readTimeout, 1) ?? CACHE_DEFAULTS.readTimeout,
    writeTimeout: intMs(where, 'writeTimeout', options.writeTimeout, 1),
    maxKeyLength,
    enabled: options.enabled ?? true,
    etag: flag(where, 'etag', options.etag),
    xCache: flag(where, 'xCache', options.xCache),
    coalesce,
    tags: Object.freeze([...allTags]),
    lockTTL: coalesce?.lockTTL ?? CACHE_DEFAULTS.coalesce.lockTTL,
    now: options.now ?? (() => Date.now()),
    cdn: resolveCdn(where, options.cdn),
    onPurge:
      options.onPurge === undefined
        ? null
        : typeof options.onPurge === 'function'
          ? options.onPurge
          : fail(where, 'onPurge', options.onPurge, 'a function (tags, keys) => void'),
    purgeWebhook: resolvePurgeWebhook(where, options.purgeWebhook),
    purgeEndpoint: options.purgeEndpoint === undefined ? false : flag(where, 'purgeEndpoint', options.purgeEndpoint),
    honorRequestCacheControl: resolveHonor(where, options.honorRequestCacheControl),
    warm: Object.freeze(
      (stringList(where, 'warm', options.warm) ?? [...CACHE_DEFAULTS.warm]).map((w, i) => {
        if (w.startsWith('/')) return Object.freeze({ path: w, host: '' });
        try {
          const u = new URL(w);
          if (u.protocol === 'http:' || u.protocol === 'https:') return Object.freeze({ path: `${u.pathname}${u.search}`, host: u.host });
        } catch {
          // reported below
        }
        return fail(where, `warm[${i}]`, w, "a path starting with '/' or an http(s) URL");
      }),
    ),
    warmTimeout: intMs(where, 'warmTimeout', options.warmTimeout, 1) ?? CACHE_DEFAULTS.warmTimeout,
  });
}
