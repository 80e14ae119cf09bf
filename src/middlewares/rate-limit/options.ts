/**
 * Options of `plugin::redis.rateLimit` / `rateLimit()`: one schema (koa2-ratelimit's names, so
 * existing configs carry over, plus the suite's own) gives the input type users write, the
 * defaults, the unit conversion (durations to ms) and every error message (path, value, fix); the
 * resolved, frozen form the middleware runs on is derived from its output. Validated once, in the
 * factory; never per request.
 *
 * Over 350 lines for a stated reason: each of its 35 options is documented here, once, beside its
 * schema (the docs and the types read it from here).
 */
import type { RedisClient } from '../../core/client.js';
import type { RedisLogger } from '../../core/logger.js';
import { always, bool, convert, custom, fn, int, ms, oneOf, options, parseOptions, str, z } from '../../core/schema.js';
import { describeValue } from '../../core/redact.js';
import { RateLimitConfigError } from './errors.js';
import { canonicalIp, DEFAULT_IPV6_SUBNET } from './ip.js';
import type { RedisConnectionLike, RedisRegistryLike } from './source.js';

/** A duration: milliseconds, or koa2-ratelimit's object form (`{ min: 1 }`, `{ sec: 30, ms: 500 }`). */
export type TimeSpan = number | { ms?: number; sec?: number; min?: number; hour?: number; day?: number; week?: number; month?: number; year?: number };

/** The Koa context members the limiter reads and writes (Koa's and Strapi's `ctx` fit). */
export interface RateLimitContext {
  /** Client address: Koa honours `X-Forwarded-For` only when `app.proxy` is true (Strapi: `server.proxy.koa`). */
  ip: string;
  path: string;
  method: string;
  status: number;
  body: unknown;
  // Koa types ctx.state as any; a narrower type here would not accept Koa's context
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  state: any;
  set(field: string, value: string): void;
}

/** What `ctx.state.rateLimit`, `handler` and `onLimitReached` see. */
export interface RateLimitInfo {
  /** The Redis key of the bucket. */
  key: string;
  /** `max`. */
  limit: number;
  /** The bucket's count after this request (weights included). */
  current: number;
  /** `max - current`, at least 0. */
  remaining: number;
  /** When the window resets, in epoch seconds (koa2-ratelimit's `ctx.state.rateLimit.reset`). */
  reset: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

const TIME_UNITS = { ms: 1, sec: 1000, min: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000, month: 2_628_000_000, year: 31_536_000_000 } as const;

/** A path rule, compiled once. */
type PathRule = { prefix: string } | { re: RegExp };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const MAX = Number.MAX_SAFE_INTEGER;

/** Convert a TimeSpan to whole milliseconds; throws a string (what is expected) when invalid. */
export function timeSpanToMs(value: unknown, min = 1): number {
  const expected = `a duration of at least ${min} ms: a number of milliseconds, or an object of ${Object.keys(TIME_UNITS).join('/')} (e.g. { min: 1 })`;
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else if (isObject(value)) {
    ms = 0;
    for (const [unit, amount] of Object.entries(value)) {
      const factor = (TIME_UNITS as Record<string, number>)[unit];
      if (factor === undefined) throw `${expected}; "${unit}" is not a unit`;
      if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) throw `${expected}; ${unit} must be a number >= 0`;
      ms += amount * factor;
    }
  } else {
    throw expected;
  }
  if (!Number.isFinite(ms) || ms < min) throw expected;
  return Math.ceil(ms);
}

const PATH_EXPECTED = 'an array of path prefixes (strings starting with "/") and/or RegExps';

/** Lower-case, percent-decoded, no repeated or trailing slashes: how paths are compared. */
export function normalizePath(path: string): string {
  let p = path;
  if (p.includes('%')) {
    try {
      p = decodeURIComponent(p);
    } catch {
      // keep it raw
    }
  }
  p = p.toLowerCase().replace(/\/{2,}/g, '/');
  if (p.length > 1) p = p.replace(/\/+$/, '');
  return p || '/';
}

/** Compile path rules; throws what is expected when the value is not a list of them. */
function compilePaths(value: unknown): PathRule[] {
  if (!Array.isArray(value)) throw PATH_EXPECTED;
  const out: PathRule[] = [];
  for (const item of value) {
    if (item instanceof RegExp) out.push({ re: new RegExp(item.source, item.flags.replace(/[gy]/g, '')) });
    else if (typeof item === 'string' && item.startsWith('/')) out.push({ prefix: normalizePath(item) });
    else throw `${PATH_EXPECTED}; ${describeValue(item)} is neither`;
  }
  return out;
}

export function matchesPath(rules: readonly PathRule[], normalized: string): boolean {
  for (const rule of rules) {
    if ('re' in rule) {
      if (rule.re.test(normalized)) return true;
    } else if (rule.prefix === '/' || normalized === rule.prefix || normalized.startsWith(`${rule.prefix}/`)) {
      return true;
    }
  }
  return false;
}

const HTTP_METHOD = /^[A-Z]+$/;

/** Where a limiter or store finds Redis (shared by the middleware's and the store's schema). */
export const sourceShape = {
  /**
   * The connection's name under `redis.config.connections` (Strapi) or in `registry` (Koa), or a
   * `RedisConnection` object. @default 'default'
   */
  connection: custom<string | RedisConnectionLike>((c) =>
    (typeof c === 'string' && c !== '') || (isObject(c) && typeof c.run === 'function' && isObject(c.client))
      ? null
      : 'the name of a connection under redis.config.connections (a non-empty string), or a RedisConnection',
  ).optional(),
  /** Plain Koa: the registry from `createRedisRegistry()` that holds `connection`. */
  registry: custom<RedisRegistryLike>((r) => (isObject(r) && typeof r.get === 'function' ? null : 'the registry returned by createRedisRegistry()')).optional(),
  /** Plain Koa: a raw ioredis client (`Redis` or `Cluster`) instead of a registry. */
  client: custom<RedisClient>((c) => (isObject(c) && typeof c.defineCommand === 'function' ? null : 'an ioredis client (Redis or Cluster)')).optional(),
  /** Bound on each Redis call, in ms. @default the connection's `requestTimeout` (200 ms for `client`) */
  requestTimeout: ms(1).optional(),
};

/** Where outage warnings go. @default console (in Strapi: strapi.log) */
export const loggerOption = custom<RedisLogger>((l) =>
  isObject(l) && ['debug', 'info', 'warn', 'error'].every((m) => typeof l[m] === 'function')
    ? null
    : 'an object with debug, info, warn and error methods (console or strapi.log)',
).optional();

/** The schema of `sourceShape` alone (its input type is `RedisSourceOptions`). */
export const sourceSchema = options(sourceShape);
/** How a limiter or store finds Redis. */
export type RedisSourceOptions = z.input<typeof sourceSchema>;

type Hook<R> = (ctx: RateLimitContext) => R;
type Weight = number | Hook<number | Promise<number>>;

const duration = (min: number) => convert<number, TimeSpan>((v) => timeSpanToMs(v, min));

export const rateLimitShape = {
  ...sourceShape,
  /** `false` installs a pass-through middleware (the options are still validated). */
  enabled: bool().default(true),
  /** Window length: ms, or `{ min: 1 }` style. Default `{ min: 1 }` (60000 ms). */
  interval: duration(1).default(60_000),
  /** Requests (sum of weights) allowed per window and key; 0 = no limit (only `delayAfter` applies). */
  max: int(0, MAX, 'an integer >= 0 (requests per window; 0 = no limit)').default(5),
  /** Requests per window let through at full speed before each further one is delayed; 0 = never delay. */
  delayAfter: int(0, MAX, 'an integer >= 0 (requests per window before delaying; 0 = never delay)').default(0),
  /** Delay per request over `delayAfter` (the n-th over waits n x timeWait, at most until the window resets). Default `{ sec: 1 }`. */
  timeWait: duration(0).default(1000),
  /**
   * Namespace of the limiter's keys. Limiters on one connection with the same `keyPrefix` +
   * `prefixKey` share one count; if their `interval`, `max` or `delayAfter` differ, the second one
   * is a config error (boot stops) naming both.
   */
  prefixKey: str("a non-empty string naming this limiter's keys", true).default('global'),
  /** First part of every Redis key. */
  keyPrefix: str('a string (the first part of every key, e.g. "rl:")').default('rl:'),
  /**
   * Bucket per client IP (`ctx.ip`), or per authenticated user (`getUserId`, default
   * `ctx.state.user.id`; anonymous requests by IP). Default 'ip', or 'user' when `getUserId` is given.
   */
  keyBy: oneOf(['ip', 'user']).optional(),
  /** The user id for `keyBy: 'user'`. Default `ctx => ctx.state.user?.id`. */
  getUserId: fn<Hook<unknown>>().optional(),
  /** Your own bucket identity (replaces the IP / user part of the key). Never build it from request fields a client chooses. */
  keyGenerator: fn<Hook<string | number | Promise<string | number>>>().optional(),
  /** Return true to let a request through uncounted. */
  skip: fn<Hook<boolean | Promise<boolean>>>().optional(),
  /** IPs, user ids or `keyGenerator` results that are never limited. */
  whitelist: custom<Array<string | number>>((v) =>
    Array.isArray(v) && v.every((x) => (typeof x === 'string' && x !== '') || (typeof x === 'number' && Number.isFinite(x)))
      ? null
      : 'an array of IPs, user ids or keys (strings or numbers)',
  ).default([]),
  /** How much a request counts: an integer >= 0, or a function of the context. */
  weight: custom<Weight>((v) =>
    typeof v === 'function' || (typeof v === 'number' && Number.isInteger(v) && v >= 0) ? null : 'an integer >= 0, or a function (ctx) => integer',
  ).default(1),
  /** Take back requests that end with status >= 400 (or throw). */
  skipFailedRequests: bool().default(false),
  /** Only these HTTP methods are counted. Default: all. */
  methods: custom<string[]>((v) =>
    Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === 'string' && HTTP_METHOD.test(m.toUpperCase()))
      ? null
      : 'a non-empty array of HTTP methods, e.g. ["POST", "PUT"]',
  ).optional(),
  /**
   * Only these paths are counted: a string matches that path and everything under it
   * (case-insensitive); a RegExp is tested on the normalised path. Default: all.
   */
  paths: convert<PathRule[], Array<string | RegExp>>((v) => {
    const rules = compilePaths(v);
    if (rules.length === 0) throw `${PATH_EXPECTED}, not empty (leave it out to count every path)`;
    return rules;
  }).optional(),
  /** Paths never counted (same forms as `paths`). */
  excludePaths: convert<PathRule[], Array<string | RegExp>>(compilePaths).default([]),
  /** Send `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`, `RateLimit-Policy`, and `Retry-After` on the limit status. */
  headers: bool().default(true),
  /** Also send `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (epoch seconds). */
  legacyHeaders: bool().default(false),
  /** Status when the limit is exceeded. */
  statusCode: int(400, 599, 'an HTTP error status from 400 to 599 (usually 429)').default(429),
  /** Message of the limit response (an object is sent as the whole body). */
  message: custom<string | Record<string, unknown>>((v) =>
    typeof v === 'string' || isObject(v) ? null : 'a string, or an object sent as the whole body',
  ).default('Too many requests, please try again later.'),
  /** Plain Koa: the body is `{ [messageKey]: message }`. */
  messageKey: str("a non-empty string (the body's key for message)", true).default('message'),
  /** Answer a limited request yourself (headers are already set). */
  handler: fn<(ctx: RateLimitContext, info: RateLimitInfo) => unknown>().optional(),
  /** Called for every request over the limit, before the response. */
  onLimitReached: fn<(ctx: RateLimitContext, info: RateLimitInfo) => unknown>().optional(),
  /** When Redis fails: true lets requests through (one warning per outage); false answers 503. Default true. */
  failOpen: bool().optional(),
  /** Plain Koa: where the outage warnings go. Default console (in Strapi: strapi.log). */
  logger: loggerOption,
  /**
   * Count the hits of one event-loop turn on one key as one increment of their summed weight; each
   * hit still gets its own exact count.
   */
  coalesce: bool().default(true),
  /**
   * After a request of a key is limited, answer that key's later requests on this instance from
   * memory (same status, body and headers, no Redis call) until its window resets. Those requests
   * are then not added to the shared counter.
   */
  inMemoryBlock: bool().default(false),
  /**
   * When Redis fails (the same choice as `failOpen`, by name): `'allow'` (= `failOpen: true`),
   * `'deny'` (= `failOpen: false`, 503), or `'memory'`: count in this process until Redis answers
   * again, with the same window and `max` (each instance then allows `max` on its own). Give
   * `onError` or `failOpen`, not both. Default 'allow'.
   */
  onError: oneOf(['allow', 'deny', 'memory']).optional(),
  /**
   * IPv6 clients are bucketed by this prefix length (a subscriber holds a /64 or more and can rotate
   * addresses in it); `false` buckets by the full address. IPv4 is always the full address, and
   * IPv4-mapped IPv6 (`::ffff:a.b.c.d`) counts as its IPv4. Integer 1..128 or false.
   */
  ipv6Subnet: custom<number | false>((v) =>
    v === false || (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 128)
      ? null
      : 'an integer from 1 to 128 (the IPv6 prefix length a bucket covers), or false (a bucket per full address)',
  ).default(DEFAULT_IPV6_SUBNET),
  /**
   * Most keys each in-process map of this limiter holds (the `onError: 'memory'` counters, the
   * `inMemoryBlock` list); over it, the least recently used key is dropped first.
   */
  memoryMaxKeys: int(1, MAX, 'an integer >= 1 (keys per in-process map)').default(10_000),
};

/** koa2-ratelimit options that have no meaning here, with the reason. */
const NOT_USED: Record<string, string> = {
  store: "no store: this middleware always counts in Redis on `connection` (the store is for Strapi's own limiters); remove it",
  prefixKeySeparator: 'nothing: keys are `<keyPrefix><prefixKey>:<ip:…|user:…>` and `whitelist` matches IPs and user ids directly; remove it',
  getUserIdFromKey: 'nothing: `whitelist` matches IPs, user ids and keyGenerator results directly; remove it',
};

/** The schema of `rateLimit()` / `plugin::redis.rateLimit` options, contradictions between options included. */
export const rateLimitSchema = z.preprocess(
  (v) => v ?? {},
  always(options(rateLimitShape, { expected: 'an object of options', refused: NOT_USED }), (raw, report) => {
    if (!isObject(raw)) return;
    const has = (k: string): boolean => raw[k] !== undefined;
    if (has('onError') && has('failOpen')) {
      report(['failOpen'], raw.failOpen, 'to be left out when onError is set (onError: "allow" is failOpen: true, "deny" is failOpen: false)');
    }
    if (has('keyGenerator') && has('keyBy')) report(['keyBy'], raw.keyBy, 'to be left out when keyGenerator is set (keyGenerator decides the bucket)');
    if (has('delayAfter') && (raw.delayAfter as number) > 0 && waitOf(raw.timeWait) === 0) {
      report(['timeWait'], raw.timeWait, 'a duration > 0 when delayAfter is set (otherwise nothing is delayed)');
    }
  }),
);

/** `timeWait` in ms, or undefined when it is invalid (reported on its own). */
function waitOf(value: unknown): number | undefined {
  try {
    return value === undefined ? 1000 : timeSpanToMs(value, 0);
  } catch {
    return undefined;
  }
}

/** The options users write (`RateLimitOptions`), from the schema. */
export type RateLimitOptions = z.input<z.ZodObject<typeof rateLimitShape>>;

/** The option names, for unknown-key errors and the docs. */
export const RATE_LIMIT_OPTION_NAMES = Object.keys(rateLimitShape) as ReadonlyArray<keyof typeof rateLimitShape>;

/** The parsed options, turned into what the middleware runs on (names in ms, sets, one failure policy). */
function toResolved(o: z.output<typeof rateLimitSchema>) {
  return Object.freeze({
    enabled: o.enabled,
    intervalMs: o.interval,
    max: o.max,
    delayAfter: o.delayAfter,
    timeWaitMs: o.timeWait,
    prefixKey: o.prefixKey,
    keyPrefix: o.keyPrefix,
    keyBy: o.keyBy ?? (o.getUserId ? 'user' : 'ip'),
    ipv6Subnet: o.ipv6Subnet,
    getUserId: o.getUserId,
    keyGenerator: o.keyGenerator,
    skip: o.skip,
    // IPs in their canonical form (`2001:DB8::1` matches 2001:db8::1); ids and keys as given.
    whitelist: new Set(o.whitelist.flatMap((x) => [String(x), canonicalIp(String(x))])) as ReadonlySet<string>,
    weight: o.weight,
    skipFailedRequests: o.skipFailedRequests,
    methods: o.methods ? (new Set(o.methods.map((m) => m.toUpperCase())) as ReadonlySet<string>) : null,
    paths: (o.paths ?? null) as readonly PathRule[] | null,
    excludePaths: o.excludePaths as readonly PathRule[],
    headers: o.headers,
    legacyHeaders: o.legacyHeaders,
    statusCode: o.statusCode,
    message: typeof o.message === 'string' ? o.message : (Object.freeze({ ...o.message }) as Readonly<Record<string, unknown>>),
    messageKey: o.messageKey,
    handler: o.handler,
    onLimitReached: o.onLimitReached,
    failOpen: o.onError !== undefined ? o.onError !== 'deny' : (o.failOpen ?? true),
    /** What a Redis failure does: `failOpen` and `onError` resolved to one policy. */
    onError: o.onError ?? ((o.failOpen ?? true) ? 'allow' : 'deny'),
    coalesce: o.coalesce,
    inMemoryBlock: o.inMemoryBlock,
    memoryMaxKeys: o.memoryMaxKeys,
    requestTimeout: o.requestTimeout,
    logger: o.logger,
  });
}

export type ResolvedRateLimitOptions = ReturnType<typeof toResolved>;

/** The defaults, read from the schema. */
export const RATE_LIMIT_DEFAULTS = (() => {
  const d = toResolved(rateLimitSchema.parse({}));
  return Object.freeze({
    enabled: d.enabled,
    intervalMs: d.intervalMs,
    max: d.max,
    delayAfter: d.delayAfter,
    timeWaitMs: d.timeWaitMs,
    prefixKey: d.prefixKey,
    keyPrefix: d.keyPrefix,
    headers: d.headers,
    legacyHeaders: d.legacyHeaders,
    statusCode: d.statusCode,
    message: d.message as string,
    messageKey: d.messageKey,
    failOpen: d.failOpen,
    coalesce: d.coalesce,
    inMemoryBlock: d.inMemoryBlock,
    memoryMaxKeys: d.memoryMaxKeys,
    ipv6Subnet: d.ipv6Subnet,
    skipFailedRequests: d.skipFailedRequests,
  });
})();

/**
 * Validate and resolve the options once. `where` names the component in the error's first line
 * (e.g. "config of plugin::redis.rateLimit"), `base` prefixes every path (e.g. "config").
 * Throws `RateLimitConfigError` listing every problem.
 */
export function resolveRateLimitOptions(input: unknown, where: string, base: string): ResolvedRateLimitOptions {
  return toResolved(parseOptions(rateLimitSchema, input, { root: base, error: (issues) => new RateLimitConfigError(where, issues) }));
}
