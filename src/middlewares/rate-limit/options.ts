/**
 * Options of `plugin::redis.rateLimit` / `rateLimit()`: the input type users write (koa2-ratelimit's
 * names, so existing configs carry over, plus the suite's own), their validation (every problem
 * collected, each naming its path, the value and the fix), and the resolved, frozen form the
 * middleware runs on. Validated once, in the factory; never per request.
 */
import { closest } from '../../core/config.js';
import type { RedisLogger } from '../../core/logger.js';
import type { ConfigIssue } from '../../core/errors.js';
import { describeValue } from '../../core/redact.js';
import { RateLimitConfigError } from './errors.js';
import { canonicalIp, DEFAULT_IPV6_SUBNET } from './ip.js';
import type { RedisSourceOptions } from './source.js';

/** A duration: milliseconds, or koa2-ratelimit's object form (`{ min: 1 }`, `{ sec: 30, ms: 500 }`). */
export type TimeSpan =
  | number
  | { ms?: number; sec?: number; min?: number; hour?: number; day?: number; week?: number; month?: number; year?: number };

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

export interface RateLimitOptions extends RedisSourceOptions {
  /** `false` installs a pass-through middleware (the options are still validated). @default true */
  enabled?: boolean;
  /** Window length: ms, or `{ min: 1 }` style. @default { min: 1 } (60000 ms) */
  interval?: TimeSpan;
  /** Requests (sum of weights) allowed per window and key; 0 = no limit (only `delayAfter` applies). @default 5 */
  max?: number;
  /** Requests per window let through at full speed before each further one is delayed; 0 = never delay. @default 0 */
  delayAfter?: number;
  /** Delay per request over `delayAfter` (the n-th over waits n x timeWait, at most until the window resets). @default { sec: 1 } */
  timeWait?: TimeSpan;
  /**
   * Namespace of the limiter's keys. Limiters on one connection with the same `keyPrefix` +
   * `prefixKey` share one count; if their `interval`, `max` or `delayAfter` differ, the second one
   * is a config error (boot stops) naming both. @default 'global'
   */
  prefixKey?: string;
  /** First part of every Redis key. @default 'rl:' */
  keyPrefix?: string;
  /** Bucket per client IP (`ctx.ip`), or per authenticated user (`getUserId`, default `ctx.state.user.id`; anonymous requests by IP). @default 'ip', or 'user' when `getUserId` is given */
  keyBy?: 'ip' | 'user';
  /** The user id for `keyBy: 'user'`. @default ctx => ctx.state.user?.id */
  getUserId?(ctx: RateLimitContext): unknown;
  /**
   * IPv6 clients are bucketed by this prefix length (a subscriber holds a /64 or more and can rotate
   * addresses in it); `false` buckets by the full address. IPv4 is always the full address, and
   * IPv4-mapped IPv6 (`::ffff:a.b.c.d`) counts as its IPv4. Integer 1..128 or false. @default 56
   */
  ipv6Subnet?: number | false;
  /** Your own bucket identity (replaces the IP / user part of the key). Never build it from request fields a client chooses. */
  keyGenerator?(ctx: RateLimitContext): string | number | Promise<string | number>;
  /** Return true to let a request through uncounted. */
  skip?(ctx: RateLimitContext): boolean | Promise<boolean>;
  /** IPs, user ids or `keyGenerator` results that are never limited. @default [] */
  whitelist?: Array<string | number>;
  /** How much a request counts: an integer >= 0, or a function of the context. @default 1 */
  weight?: number | ((ctx: RateLimitContext) => number | Promise<number>);
  /** Take back requests that end with status >= 400 (or throw). @default false */
  skipFailedRequests?: boolean;
  /** Only these HTTP methods are counted. @default all */
  methods?: string[];
  /** Only these paths are counted: a string matches that path and everything under it (case-insensitive); a RegExp is tested on the normalised path. @default all */
  paths?: Array<string | RegExp>;
  /** Paths never counted (same forms as `paths`). @default [] */
  excludePaths?: Array<string | RegExp>;
  /** Send `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`, `RateLimit-Policy`, and `Retry-After` on the limit status. @default true */
  headers?: boolean;
  /** Also send `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (epoch seconds). @default false */
  legacyHeaders?: boolean;
  /** Status when the limit is exceeded. @default 429 */
  statusCode?: number;
  /** Message of the limit response (an object is sent as the whole body). @default 'Too many requests, please try again later.' */
  message?: string | Record<string, unknown>;
  /** Plain Koa: the body is `{ [messageKey]: message }`. @default 'message' */
  messageKey?: string;
  /** Answer a limited request yourself (headers are already set). */
  handler?(ctx: RateLimitContext, info: RateLimitInfo): unknown;
  /** Called for every request over the limit, before the response. */
  onLimitReached?(ctx: RateLimitContext, info: RateLimitInfo): unknown;
  /** When Redis fails: true lets requests through (one warning per outage); false answers 503. @default true */
  failOpen?: boolean;
  /**
   * When Redis fails (the same choice as `failOpen`, by name): `'allow'` (= `failOpen: true`),
   * `'deny'` (= `failOpen: false`, 503), or `'memory'`: count in this process until Redis answers
   * again, with the same window and `max` (each instance then allows `max` on its own). Give
   * `onError` or `failOpen`, not both. @default 'allow'
   */
  onError?: 'allow' | 'deny' | 'memory';
  /**
   * Send concurrent hits on one key as one script call (INCRBY of their summed weight) while a call
   * for that key is in flight; each hit still gets its own exact count. @default true
   */
  coalesce?: boolean;
  /**
   * After a request of a key is limited, answer that key's later requests on this instance from
   * memory (same status, body and headers, no Redis call) until its window resets. Those requests
   * are then not added to the shared counter. @default false
   */
  inMemoryBlock?: boolean;
  /**
   * Most keys each in-process map of this limiter holds (the `onError: 'memory'` counters, the
   * `inMemoryBlock` list); over it, the least recently used key is dropped first. @default 10000
   */
  memoryMaxKeys?: number;
  /** Plain Koa: where the outage warnings go. @default console (in Strapi: strapi.log) */
  logger?: RedisLogger;
}

/** A path rule, compiled once. */
type PathRule = { prefix: string } | { re: RegExp };

export interface ResolvedRateLimitOptions {
  readonly enabled: boolean;
  readonly intervalMs: number;
  readonly max: number;
  readonly delayAfter: number;
  readonly timeWaitMs: number;
  readonly prefixKey: string;
  readonly keyPrefix: string;
  readonly keyBy: 'ip' | 'user';
  readonly ipv6Subnet: number | false;
  readonly getUserId: ((ctx: RateLimitContext) => unknown) | undefined;
  readonly keyGenerator: ((ctx: RateLimitContext) => string | number | Promise<string | number>) | undefined;
  readonly skip: ((ctx: RateLimitContext) => boolean | Promise<boolean>) | undefined;
  readonly whitelist: ReadonlySet<string>;
  readonly weight: number | ((ctx: RateLimitContext) => number | Promise<number>);
  readonly skipFailedRequests: boolean;
  readonly methods: ReadonlySet<string> | null;
  readonly paths: readonly PathRule[] | null;
  readonly excludePaths: readonly PathRule[];
  readonly headers: boolean;
  readonly legacyHeaders: boolean;
  readonly statusCode: number;
  readonly message: string | Readonly<Record<string, unknown>>;
  readonly messageKey: string;
  readonly handler: ((ctx: RateLimitContext, info: RateLimitInfo) => unknown) | undefined;
  readonly onLimitReached: ((ctx: RateLimitContext, info: RateLimitInfo) => unknown) | undefined;
  readonly failOpen: boolean;
  /** What a Redis failure does: `failOpen` and `onError` resolved to one policy. */
  readonly onError: 'allow' | 'deny' | 'memory';
  readonly coalesce: boolean;
  readonly inMemoryBlock: boolean;
  readonly memoryMaxKeys: number;
  readonly requestTimeout: number | undefined;
  readonly logger: RedisLogger | undefined;
}

export const RATE_LIMIT_DEFAULTS = Object.freeze({
  enabled: true,
  intervalMs: 60_000,
  max: 5,
  delayAfter: 0,
  timeWaitMs: 1000,
  prefixKey: 'global',
  keyPrefix: 'rl:',
  headers: true,
  legacyHeaders: false,
  statusCode: 429,
  message: 'Too many requests, please try again later.',
  messageKey: 'message',
  failOpen: true,
  coalesce: true,
  inMemoryBlock: false,
  memoryMaxKeys: 10_000,
  ipv6Subnet: DEFAULT_IPV6_SUBNET as number | false,
  skipFailedRequests: false,
});

// ---------------------------------------------------------------------------------------------
// checks: each returns null when fine, or what is expected

type Check = (v: unknown) => string | null;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bool: Check = (v) => (typeof v === 'boolean' ? null : 'true or false');
const fn: Check = (v) => (typeof v === 'function' ? null : 'a function');
const int = (min: number, what: string): Check => (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min ? null : what);
const str = (what: string): Check => (v) => (typeof v === 'string' && v !== '' ? null : what);

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

function compilePaths(value: unknown): PathRule[] | string {
  if (!Array.isArray(value)) return PATH_EXPECTED;
  const out: PathRule[] = [];
  for (const item of value) {
    if (item instanceof RegExp) out.push({ re: new RegExp(item.source, item.flags.replace(/[gy]/g, '')) });
    else if (typeof item === 'string' && item.startsWith('/')) out.push({ prefix: normalizePath(item) });
    else return `${PATH_EXPECTED}; ${describeValue(item)} is neither`;
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

/** The option names, for unknown-key errors. */
export const RATE_LIMIT_OPTION_NAMES = [
  'connection', 'registry', 'client', 'requestTimeout', 'enabled', 'interval', 'max', 'delayAfter', 'timeWait', 'prefixKey',
  'keyPrefix', 'keyBy', 'getUserId', 'keyGenerator', 'skip', 'whitelist', 'weight', 'skipFailedRequests', 'methods', 'paths',
  'excludePaths', 'headers', 'legacyHeaders', 'statusCode', 'message', 'messageKey', 'handler', 'onLimitReached', 'failOpen', 'logger',
  'coalesce', 'inMemoryBlock', 'onError', 'ipv6Subnet', 'memoryMaxKeys',
] as const;

/** koa2-ratelimit options that have no meaning here, with the reason. */
const NOT_USED: Record<string, string> = {
  store: 'no store: this middleware always counts in Redis on `connection` (the store is for Strapi\'s own limiters); remove it',
  prefixKeySeparator: 'nothing: keys are `<keyPrefix><prefixKey>:<ip:…|user:…>` and `whitelist` matches IPs and user ids directly; remove it',
  getUserIdFromKey: 'nothing: `whitelist` matches IPs, user ids and keyGenerator results directly; remove it',
};

/** Collect issues shared by the middleware and the store: where Redis is and how long to wait. */
export function checkSource(input: Record<string, unknown>, base: string, add: (path: string, value: unknown, expected: string) => void): void {
  const c = input.connection;
  if (c !== undefined && !(typeof c === 'string' && c !== '') && !(isObject(c) && typeof c.run === 'function' && isObject(c.client))) {
    add(`${base}.connection`, c, 'the name of a connection under redis.config.connections (a non-empty string), or a RedisConnection');
  }
  if (input.registry !== undefined && !(isObject(input.registry) && typeof input.registry.get === 'function')) {
    add(`${base}.registry`, input.registry, 'the registry returned by createRedisRegistry()');
  }
  if (input.client !== undefined && !(isObject(input.client) && typeof input.client.defineCommand === 'function')) {
    add(`${base}.client`, input.client, 'an ioredis client (Redis or Cluster)');
  }
  if (input.requestTimeout !== undefined) {
    const e = int(1, 'an integer number of milliseconds >= 1')(input.requestTimeout);
    if (e) add(`${base}.requestTimeout`, input.requestTimeout, e);
  }
  if (input.logger !== undefined && !(isObject(input.logger) && ['debug', 'info', 'warn', 'error'].every((m) => typeof (input.logger as Record<string, unknown>)[m] === 'function'))) {
    add(`${base}.logger`, input.logger, 'an object with debug, info, warn and error methods (console or strapi.log)');
  }
}

/**
 * Validate and resolve the options once. `where` names the component in the error's first line
 * (e.g. "config of plugin::redis.rateLimit"), `base` prefixes every path (e.g. "config").
 * Throws `RateLimitConfigError` listing every problem.
 */
export function resolveRateLimitOptions(input: unknown, where: string, base: string): ResolvedRateLimitOptions {
  const issues: ConfigIssue[] = [];
  const add = (path: string, value: unknown, expected: string): void => {
    issues.push({ path, got: describeValue(value, path.slice(path.lastIndexOf('.') + 1)), expected });
  };
  if (input === undefined || input === null) input = {};
  if (!isObject(input)) throw new RateLimitConfigError(where, [{ path: base, got: describeValue(input), expected: 'an object of options' }]);
  const o = input;
  const has = (k: string): boolean => o[k] !== undefined;
  const check = (k: string, c: Check): boolean => {
    if (!has(k)) return false;
    const e = c(o[k]);
    if (e) add(`${base}.${k}`, o[k], e);
    return e === null;
  };

  for (const k of Object.keys(o)) {
    if ((RATE_LIMIT_OPTION_NAMES as readonly string[]).includes(k)) continue;
    const reason = NOT_USED[k];
    if (reason) add(`${base}.${k}`, o[k], reason);
    else {
      const near = closest(k, RATE_LIMIT_OPTION_NAMES);
      add(`${base}.${k}`, o[k], `no such option${near ? ` (did you mean "${near}"?)` : ''}; known options: ${RATE_LIMIT_OPTION_NAMES.join(', ')}`);
    }
  }
  checkSource(o, base, add);

  const duration = (k: string, fallback: number, min: number): number => {
    if (!has(k)) return fallback;
    try {
      return timeSpanToMs(o[k], min);
    } catch (expected) {
      add(`${base}.${k}`, o[k], String(expected));
      return fallback;
    }
  };
  const intervalMs = duration('interval', RATE_LIMIT_DEFAULTS.intervalMs, 1);
  const timeWaitMs = duration('timeWait', RATE_LIMIT_DEFAULTS.timeWaitMs, 0);

  check('enabled', bool);
  check('max', int(0, 'an integer >= 0 (requests per window; 0 = no limit)'));
  check('delayAfter', int(0, 'an integer >= 0 (requests per window before delaying; 0 = never delay)'));
  check('prefixKey', str('a non-empty string naming this limiter\'s keys'));
  check('keyPrefix', (v) => (typeof v === 'string' ? null : 'a string (the first part of every key, e.g. "rl:")'));
  check('keyBy', (v) => (v === 'ip' || v === 'user' ? null : '"ip" or "user"'));
  check('ipv6Subnet', (v) =>
    v === false || (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 128)
      ? null
      : 'an integer from 1 to 128 (the IPv6 prefix length a bucket covers), or false (a bucket per full address)',
  );
  check('memoryMaxKeys', int(1, 'an integer >= 1 (keys per in-process map)'));
  for (const k of ['getUserId', 'keyGenerator', 'skip', 'handler', 'onLimitReached']) check(k, fn);
  check('whitelist', (v) =>
    Array.isArray(v) && v.every((x) => (typeof x === 'string' && x !== '') || (typeof x === 'number' && Number.isFinite(x)))
      ? null
      : 'an array of IPs, user ids or keys (strings or numbers)',
  );
  check('weight', (v) => (typeof v === 'function' || (typeof v === 'number' && Number.isInteger(v) && v >= 0) ? null : 'an integer >= 0, or a function (ctx) => integer'));
  for (const k of ['skipFailedRequests', 'headers', 'legacyHeaders', 'failOpen', 'coalesce', 'inMemoryBlock']) check(k, bool);
  check('methods', (v) =>
    Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === 'string' && HTTP_METHOD.test(m.toUpperCase()))
      ? null
      : 'a non-empty array of HTTP methods, e.g. ["POST", "PUT"]',
  );
  let paths: PathRule[] | null = null;
  let excludePaths: PathRule[] = [];
  if (has('paths')) {
    const r = compilePaths(o.paths);
    if (typeof r === 'string') add(`${base}.paths`, o.paths, r);
    else if (r.length === 0) add(`${base}.paths`, o.paths, `${PATH_EXPECTED}, not empty (leave it out to count every path)`);
    else paths = r;
  }
  if (has('excludePaths')) {
    const r = compilePaths(o.excludePaths);
    if (typeof r === 'string') add(`${base}.excludePaths`, o.excludePaths, r);
    else excludePaths = r;
  }
  check('statusCode', (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 400 && v <= 599 ? null : 'an HTTP error status from 400 to 599 (usually 429)'));
  check('message', (v) => (typeof v === 'string' || isObject(v) ? null : 'a string, or an object sent as the whole body'));
  check('messageKey', str('a non-empty string (the body\'s key for message)'));
  check('onError', (v) => (v === 'allow' || v === 'deny' || v === 'memory' ? null : '"allow", "deny" or "memory"'));
  if (has('onError') && has('failOpen')) {
    add(`${base}.failOpen`, o.failOpen, 'to be left out when onError is set (onError: "allow" is failOpen: true, "deny" is failOpen: false)');
  }
  if (has('keyGenerator') && has('keyBy')) {
    add(`${base}.keyBy`, o.keyBy, 'to be left out when keyGenerator is set (keyGenerator decides the bucket)');
  }
  if (has('delayAfter') && (o.delayAfter as number) > 0 && timeWaitMs === 0) {
    add(`${base}.timeWait`, o.timeWait, 'a duration > 0 when delayAfter is set (otherwise nothing is delayed)');
  }

  if (issues.length > 0) throw new RateLimitConfigError(where, issues);

  const v = <T>(k: string, fallback: T): T => (has(k) ? (o[k] as T) : fallback);
  const message = v<string | Record<string, unknown>>('message', RATE_LIMIT_DEFAULTS.message);
  return Object.freeze({
    enabled: v('enabled', RATE_LIMIT_DEFAULTS.enabled),
    intervalMs,
    max: v('max', RATE_LIMIT_DEFAULTS.max),
    delayAfter: v('delayAfter', RATE_LIMIT_DEFAULTS.delayAfter),
    timeWaitMs,
    prefixKey: v('prefixKey', RATE_LIMIT_DEFAULTS.prefixKey),
    keyPrefix: v('keyPrefix', RATE_LIMIT_DEFAULTS.keyPrefix),
    keyBy: v<'ip' | 'user'>('keyBy', has('getUserId') ? 'user' : 'ip'),
    ipv6Subnet: v<number | false>('ipv6Subnet', RATE_LIMIT_DEFAULTS.ipv6Subnet),
    getUserId: v('getUserId', undefined),
    keyGenerator: v('keyGenerator', undefined),
    skip: v('skip', undefined),
    // IPs in their canonical form (`2001:DB8::1` matches 2001:db8::1); ids and keys as given.
    whitelist: new Set(v<Array<string | number>>('whitelist', []).flatMap((x) => [String(x), canonicalIp(String(x))])),
    weight: v('weight', 1),
    skipFailedRequests: v('skipFailedRequests', RATE_LIMIT_DEFAULTS.skipFailedRequests),
    methods: has('methods') ? new Set((o.methods as string[]).map((m) => m.toUpperCase())) : null,
    paths,
    excludePaths,
    headers: v('headers', RATE_LIMIT_DEFAULTS.headers),
    legacyHeaders: v('legacyHeaders', RATE_LIMIT_DEFAULTS.legacyHeaders),
    statusCode: v('statusCode', RATE_LIMIT_DEFAULTS.statusCode),
    message: typeof message === 'string' ? message : Object.freeze({ ...message }),
    messageKey: v('messageKey', RATE_LIMIT_DEFAULTS.messageKey),
    handler: v('handler', undefined),
    onLimitReached: v('onLimitReached', undefined),
    failOpen: has('onError') ? o.onError !== 'deny' : v('failOpen', RATE_LIMIT_DEFAULTS.failOpen),
    onError: has('onError') ? (o.onError as 'allow' | 'deny' | 'memory') : v('failOpen', RATE_LIMIT_DEFAULTS.failOpen) ? 'allow' : 'deny',
    coalesce: v('coalesce', RATE_LIMIT_DEFAULTS.coalesce),
    inMemoryBlock: v('inMemoryBlock', RATE_LIMIT_DEFAULTS.inMemoryBlock),
    memoryMaxKeys: v('memoryMaxKeys', RATE_LIMIT_DEFAULTS.memoryMaxKeys),
    requestTimeout: v<number | undefined>('requestTimeout', undefined),
    logger: v<RedisLogger | undefined>('logger', undefined),
  });
}

