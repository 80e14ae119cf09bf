/**
 * Options of the response cache: what users write (`ResponseCacheOptions`), the defaults, and the
 * resolved, frozen form the middleware uses. Validated once, in the factory; every error names the
 * option path, the value it got and what is expected. Milliseconds everywhere.
 */
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
});

export interface ResolvedRule {
  /** Human-readable origin, for logs. */
  readonly label: string;
  readonly matches: (path: string) => boolean;
  readonly maxAge: number;
  readonly tags: readonly string[];
  readonly byCaller: boolean;
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
}

/** What the Strapi factory knows about content types. */
export interface ContentTypeInfo {
  kind?: string;
  info?: { pluralName?: string; singularName?: string };
}

export class CacheConfigError extends TypeError {
  override readonly name = 'CacheConfigError';
  readonly code = 'REDIS_SUITE_CACHE_CONFIG';
}

/** Every option the response cache accepts (`CACHE_DEFAULTS` holds the defaults that are constants). */
export const KNOWN = new Set([
  'connection', 'registry', 'client', 'contentTypes', 'routes', 'maxAge', 'prefix', 'keyHeaders', 'queryKeys',
  'byCaller', 'maxBodyBytes', 'readTimeout', 'writeTimeout', 'maxKeyLength', 'logger', 'enabled', 'coalesce',
  'etag', 'xCache', 'keyHost',
]);
/** Every option a cache rule (`contentTypes[]` / `routes[]` object) accepts. */
export const RULE_KNOWN = new Set(['contentType', 'path', 'maxAge', 'tags', 'relatedContentTypes', 'byCaller']);

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

/** Validate and resolve once (throws `CacheConfigError` naming the option). */
export function resolveCacheOptions(input: unknown, where: string, host: ResolveHost = {}): ResolvedCacheOptions {
  const o = (input ?? {}) as ResponseCacheOptions;
  if (typeof o !== 'object' || Array.isArray(o)) fail(where, 'config', input, 'an object');
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) fail(where, k, (o as Record<string, unknown>)[k], `no such option; known options: ${[...KNOWN].join(', ')}`);
  const maxAge = intMs(where, 'maxAge', o.maxAge, 1) ?? CACHE_DEFAULTS.maxAge;
  const defaultByCaller = o.byCaller ?? CACHE_DEFAULTS.byCaller;
  if (typeof defaultByCaller !== 'boolean') fail(where, 'byCaller', o.byCaller, 'a boolean');
  if (o.prefix !== undefined && (typeof o.prefix !== 'string' || o.prefix === '')) fail(where, 'prefix', o.prefix, "a non-empty string like 'cache:'");
  if (o.enabled !== undefined && typeof o.enabled !== 'boolean') fail(where, 'enabled', o.enabled, 'a boolean');

  const rules: ResolvedRule[] = [];
  const ruleOf = (raw: string | RegExp | CacheRuleInput, path: string, fromContentTypes: boolean) => {
    const rule: CacheRuleInput = typeof raw === 'string' ? (fromContentTypes ? { contentType: raw } : { path: raw }) : raw instanceof RegExp ? { path: raw } : raw;
    if (!rule || typeof rule !== 'object') fail(where, path, raw, 'a string, a RegExp or a rule object');
    for (const k of Object.keys(rule)) if (!RULE_KNOWN.has(k)) fail(where, `${path}.${k}`, (rule as Record<string, unknown>)[k], `no such option; known: ${[...RULE_KNOWN].join(', ')}`);
    const ttl = intMs(where, `${path}.maxAge`, rule.maxAge, 1) ?? maxAge;
    const byCaller = rule.byCaller ?? defaultByCaller;
    if (typeof byCaller !== 'boolean') fail(where, `${path}.byCaller`, rule.byCaller, 'a boolean');
    const tags = new Set(stringList(where, `${path}.tags`, rule.tags) ?? []);
    for (const uid of stringList(where, `${path}.relatedContentTypes`, rule.relatedContentTypes) ?? []) tags.add(contentTypeTag(uid));
    const matchers: Array<(p: string) => boolean> = [];
    const labels: string[] = [];
    if (rule.contentType !== undefined) {
      if (typeof rule.contentType !== 'string' || rule.contentType === '') fail(where, `${path}.contentType`, rule.contentType, "a content type UID like 'api::article.article'");
      if (!host.contentTypes) fail(where, `${path}.contentType`, rule.contentType, 'a path rule: content types are known only inside Strapi');
      const ct = host.contentTypes[rule.contentType];
      const plural = ct?.info?.pluralName;
      if (!ct || !plural) fail(where, `${path}.contentType`, rule.contentType, `a content type UID of this app (${Object.keys(host.contentTypes).filter((u) => u.startsWith('api::')).join(', ') || 'none found'})`);
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
    rules.push(Object.freeze({ label: labels.join(' '), matches: (p: string) => matchers.some((m) => m(p)), maxAge: ttl, tags: Object.freeze([...tags]), byCaller }));
  };
  if (o.contentTypes !== undefined && !Array.isArray(o.contentTypes)) fail(where, 'contentTypes', o.contentTypes, 'an array of content type UIDs or rules');
  if (o.routes !== undefined && !Array.isArray(o.routes)) fail(where, 'routes', o.routes, 'an array of path patterns or rules');
  (o.contentTypes ?? []).forEach((r, i) => ruleOf(r, `contentTypes[${i}]`, true));
  (o.routes ?? []).forEach((r, i) => ruleOf(r, `routes[${i}]`, false));

  const keyHeaders = (stringList(where, 'keyHeaders', o.keyHeaders) ?? [...CACHE_DEFAULTS.keyHeaders]).map((h) => h.toLowerCase()).sort();
  const queryKeys = stringList(where, 'queryKeys', o.queryKeys);
  const maxKeyLength = intMs(where, 'maxKeyLength', o.maxKeyLength, 64, 'characters') ?? CACHE_DEFAULTS.maxKeyLength;
  const allTags = new Set(rules.flatMap((r) => r.tags));
  let coalesce: ResolvedCacheOptions['coalesce'] = null;
  if (o.coalesce === true) coalesce = CACHE_DEFAULTS.coalesce;
  else if (o.coalesce && typeof o.coalesce === 'object') {
    const c = o.coalesce;
    for (const k of Object.keys(c)) if (!['lockTTL', 'maxWait', 'pollInterval'].includes(k)) fail(where, `coalesce.${k}`, (c as Record<string, unknown>)[k], 'no such option; known: lockTTL, maxWait, pollInterval');
    coalesce = Object.freeze({
      lockTTL: intMs(where, 'coalesce.lockTTL', c.lockTTL, 1) ?? CACHE_DEFAULTS.coalesce.lockTTL,
      maxWait: intMs(where, 'coalesce.maxWait', c.maxWait, 0) ?? CACHE_DEFAULTS.coalesce.maxWait,
      pollInterval: intMs(where, 'coalesce.pollInterval', c.pollInterval, 1) ?? CACHE_DEFAULTS.coalesce.pollInterval,
    });
  } else if (o.coalesce !== undefined && o.coalesce !== false) fail(where, 'coalesce', o.coalesce, 'a boolean or { lockTTL, maxWait, pollInterval }');
  return Object.freeze({
    rules: Object.freeze(rules),
    prefix: o.prefix ?? CACHE_DEFAULTS.prefix,
    keyHost: o.keyHost === undefined ? (host.keyHostDefault ?? true) : flag(where, 'keyHost', o.keyHost),
    keyHeaders: Object.freeze(keyHeaders),
    queryKeys: queryKeys ? new Set(queryKeys) : null,
    maxBodyBytes: intMs(where, 'maxBodyBytes', o.maxBodyBytes, 0, 'bytes') ?? CACHE_DEFAULTS.maxBodyBytes,
    readTimeout: intMs(where, 'readTimeout', o.readTimeout, 1) ?? CACHE_DEFAULTS.readTimeout,
    writeTimeout: intMs(where, 'writeTimeout', o.writeTimeout, 1),
    maxKeyLength,
    enabled: o.enabled ?? true,
    etag: flag(where, 'etag', o.etag),
    xCache: flag(where, 'xCache', o.xCache),
    coalesce,
    tags: Object.freeze([...allTags]),
  });
}
