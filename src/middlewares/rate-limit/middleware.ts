/**
 * The rate-limit middleware: `plugin::redis.rateLimit` in Strapi, `rateLimit()` in a plain Koa app.
 *
 * Per request: match methods/paths, `skip`, find the bucket (client IP, IPv6 by its `ipv6Subnet`
 * prefix; user; or `keyGenerator`),
 * `whitelist`, then ONE atomic script call (INCRBY weight, PEXPIRE when the key has no TTL, return
 * count and PTTL), headers, and either the limit response, a delay, or `next()`. Everything else
 * (options, paths, the connection, the script registration) is settled once, in the factory.
 *
 * Longer than 350 lines: the request path (match, bucket, count, headers, 429, delay, skip failed)
 * is one function over the limiter's resolved options; the counter is in source.ts.
 */
import { consoleLogger, createSuiteLog, type RedisLogger, type SuiteLog } from '../../core/logger.js';
import { RateLimitConfigError } from './errors.js';
import {
  RATE_LIMIT_DEFAULTS,
  matchesPath,
  normalizePath,
  resolveRateLimitOptions,
  type RateLimitContext,
  type RateLimitInfo,
  type RateLimitOptions,
  type ResolvedRateLimitOptions,
} from './options.js';
import { now } from '../../core/time.js';
import { canonicalIp, ipBucket } from './ip.js';
import { ExpiringLru } from './memory.js';
import { claimNamespace, zeroRateLimitCounters, type LimiterClaim, type RateLimitCounters } from './shared.js';
import { boundKey, resolveSource, WindowCounter, type StrapiHost } from './source.js';

/** A Koa middleware (named, as Koa's guide asks). */
export type RateLimitMiddleware = (ctx: RateLimitContext, next: () => Promise<unknown>) => Promise<void>;

const STRAPI_ID = 'plugin::redis.rateLimit';

/**
 * A rate-limit middleware for a plain Koa app (or any Koa-style stack).
 *
 * ```ts
 * const redis = createRedisRegistry({ connections: { default: { connection: 'redis://127.0.0.1:6379' } } });
 * app.use(rateLimit({ registry: redis, interval: { min: 1 }, max: 100 }));
 * ```
 * Throws `RateLimitConfigError` for invalid options.
 */
export function rateLimit(options: RateLimitOptions = {}): RateLimitMiddleware {
  const resolved = resolveRateLimitOptions(options, 'options of rateLimit()', 'options');
  const site = callSite(rateLimit);
  return build(resolved, options, {
    strapi: undefined,
    where: 'rateLimit() options',
    log: resolved.logger ?? consoleLogger,
    origin: () => `rateLimit()${site ? ` at ${site}` : ''}`,
  });
}

/**
 * The Strapi factory of `plugin::redis.rateLimit`: Strapi calls it once, as `factory(config, { strapi })`,
 * when it builds the middleware stack (bootstrap) or a route's middlewares. Invalid config and unknown
 * connections throw here, so boot stops with the path, the value and the fix.
 */
export function createStrapiRateLimit(config: unknown, { strapi }: { strapi: unknown }): RateLimitMiddleware {
  const where = `config of ${STRAPI_ID} (config/middlewares, or a route's config.middlewares)`;
  const resolved = resolveRateLimitOptions(config, where, 'config');
  const host = strapi as StrapiHost & { log: RedisLogger };
  return build(resolved, (config ?? {}) as RateLimitOptions, {
    strapi: host,
    where: `${STRAPI_ID} config.connection`,
    log: resolved.logger ?? host.log,
    origin: () => `${STRAPI_ID} ${locateInStrapi(strapi, config)}`,
  });
}

interface BuildHost {
  strapi: StrapiHost | undefined;
  where: string;
  log: RedisLogger;
  /** Where this limiter was configured, for an error naming it (worked out only then). */
  origin(): string;
}

function build(limits: ResolvedRateLimitOptions, source: RateLimitOptions, host: BuildHost): RateLimitMiddleware {
  if (!limits.enabled) {
    return async function rateLimitDisabled(_ctx, next) {
      await next();
    };
  }
  const log: SuiteLog = createSuiteLog(host.log, 'rate-limit');
  let connection;
  try {
    connection = resolveSource(source, host.where, host.strapi);
  } catch (err) {
    const base = host.strapi ? 'config' : 'options';
    throw new RateLimitConfigError(host.strapi ? `config of ${STRAPI_ID}` : 'options of rateLimit()', [
      {
        path: `${base}.connection`,
        got: JSON.stringify(typeof source.connection === 'string' ? source.connection : 'default'),
        expected: (err as Error).message,
      },
    ]);
  }
  const counters = zeroRateLimitCounters();
  const counter = new WindowCounter(() => connection, {
    counters,
    policy: limits.onError === 'memory' ? 'memory' : limits.failOpen ? 'open' : 'closed',
    timeoutMs: limits.requestTimeout,
    log: () => log,
    coalesce: limits.coalesce,
  });
  void counter.connection; // register the scripts now, not on the first request
  const inStrapi = host.strapi !== undefined;
  const keyBase = `${limits.keyPrefix}${limits.prefixKey}:`;
  claimKeys(connection, keyBase, limits, host);
  const filterPaths = limits.paths !== null || limits.excludePaths.length > 0;
  const headerLimit = String(limits.max);
  const policy = `${limits.max};w=${Math.ceil(limits.intervalMs / 1000)}`;

  const limitBody = (): unknown => {
    if (typeof limits.message !== 'string') return limits.message;
    return inStrapi
      ? { data: null, error: { status: limits.statusCode, name: 'RateLimitError', message: limits.message, details: {} } }
      : { [limits.messageKey]: limits.message };
  };
  // In-process maps, each capped at memoryMaxKeys (least recently used dropped first) and swept by
  // an unref'd timer while it holds something, so keys that stop coming leave without traffic.
  const sweepEveryMs = Math.max(100, Math.min(limits.intervalMs, 10_000));
  /** `inMemoryBlock`: limited keys and when their window resets (performance.now() ms). */
  const blocked = new ExpiringLru<{ expiresAt: number }>(limits.memoryMaxKeys, sweepEveryMs);
  const blockedFor = (key: string): number => {
    const entry = blocked.get(key);
    return entry === undefined ? 0 : entry.expiresAt - now();
  };
  const block = (key: string, ttlMs: number): void => {
    blocked.set(key, { expiresAt: now() + ttlMs });
  };

  /** `onError: 'memory'`: fixed windows in this process, used only while Redis fails; dropped when it answers again. */
  const local = new ExpiringLru<{ count: number; expiresAt: number }>(limits.memoryMaxKeys, sweepEveryMs);
  const memoryHit = (key: string, weight: number): { count: number; ttlMs: number } => {
    const t = now();
    let w = local.get(key);
    if (!w) {
      w = { count: 0, expiresAt: t + limits.intervalMs };
      local.set(key, w);
    }
    w.count += weight;
    return { count: w.count, ttlMs: Math.max(1, Math.ceil(w.expiresAt - t)) };
  };

  const unavailable = (ctx: RateLimitContext): void => {
    const message = 'Rate limiting is unavailable, please try again later.';
    ctx.status = 503;
    ctx.body = inStrapi ? { data: null, error: { status: 503, name: 'ServiceUnavailableError', message, details: {} } } : { [limits.messageKey]: message };
  };

  /**
   * The bucket of a request, or null when it is not counted (method, path, `skip`, `whitelist`).
   * By default the client IP (`ctx.ip`) or the user id: never a request field the client chooses.
   */
  const identify = async (ctx: RateLimitContext): Promise<string | null> => {
    if (limits.methods !== null && !limits.methods.has(ctx.method)) return null;
    if (filterPaths) {
      const path = normalizePath(ctx.path);
      if ((limits.paths !== null && !matchesPath(limits.paths, path)) || matchesPath(limits.excludePaths, path)) return null;
    }
    if (limits.skip && (await limits.skip(ctx))) return null;
    if (limits.keyGenerator) {
      const id = String(await limits.keyGenerator(ctx));
      return limits.whitelist.has(id) ? null : id;
    }
    const ip = clientIp(ctx);
    if (limits.whitelist.has(ip) || limits.whitelist.has(canonicalIp(ip))) return null;
    if (limits.keyBy === 'user') {
      const id = limits.getUserId ? await limits.getUserId(ctx) : ctx.state?.user?.id;
      if (id !== undefined && id !== null && id !== '') return limits.whitelist.has(String(id)) ? null : `user:${String(id)}`;
    }
    return `ip:${ipBucket(ip, limits.ipv6Subnet)}`;
  };

  const middleware: RateLimitMiddleware = async function redisRateLimit(ctx, next) {
    const identity = await identify(ctx);
    if (identity === null) {
      await next();
      return;
    }
    const weight = typeof limits.weight === 'number' ? limits.weight : await limits.weight(ctx);
    if (!Number.isInteger(weight) || weight < 0) {
      throw new TypeError(`rate limit: the weight function returned ${String(weight)}; it must return an integer >= 0.`);
    }
    const key = boundKey(keyBase, identity);

    let count: number;
    let ttlMs: number;
    const hitAt = Date.now();
    const blockedMs = limits.inMemoryBlock ? blockedFor(key) : 0;
    if (blockedMs > 0) {
      // Limited before on this instance and its window has not reset: answer without Redis.
      count = limits.max + Math.max(weight, 1);
      ttlMs = blockedMs;
    } else {
      try {
        ({ count, ttlMs } = await counter.hit(key, weight, limits.intervalMs));
        // Redis answers again: the outage's in-process windows are over (the next outage starts afresh).
        if (local.size > 0) local.clear();
      } catch {
        // Logged once per outage by the counter.
        if (limits.onError === 'memory') {
          ({ count, ttlMs } = memoryHit(key, weight));
        } else {
          if (!limits.failOpen) return unavailable(ctx);
          await next();
          return;
        }
      }
    }

    const remaining = limits.max > 0 ? Math.max(0, limits.max - count) : 0;
    const resetS = Math.max(1, Math.ceil(ttlMs / 1000));
    const info: RateLimitInfo = { key, limit: limits.max, current: count, remaining, reset: Math.ceil((hitAt + ttlMs) / 1000), resetMs: ttlMs };
    ctx.state.rateLimit = info;
    if (limits.max > 0) {
      if (limits.headers) {
        ctx.set('RateLimit-Limit', headerLimit);
        ctx.set('RateLimit-Remaining', String(remaining));
        ctx.set('RateLimit-Reset', String(resetS));
        ctx.set('RateLimit-Policy', policy);
      }
      if (limits.legacyHeaders) {
        ctx.set('X-RateLimit-Limit', headerLimit);
        ctx.set('X-RateLimit-Remaining', String(remaining));
        ctx.set('X-RateLimit-Reset', String(info.reset));
      }
      if (count > limits.max) {
        counters.limited++;
        if (limits.inMemoryBlock && blockedMs === 0) block(key, ttlMs);
        if (limits.headers) ctx.set('Retry-After', String(resetS));
        if (limits.onLimitReached) await limits.onLimitReached(ctx, info);
        if (limits.handler) {
          await limits.handler(ctx, info);
        } else {
          ctx.status = limits.statusCode;
          ctx.body = limitBody();
        }
        return;
      }
    }
    counters.passed++;
    if (limits.delayAfter > 0 && count > limits.delayAfter) {
      counters.delayed++;
      await sleep(Math.min((count - limits.delayAfter) * limits.timeWaitMs, ttlMs));
    }
    if (!limits.skipFailedRequests) {
      await next();
      return;
    }

    let failed = true;
    try {
      await next();
      failed = ctx.status >= 400;
    } finally {
      // Take the hit back in its own window (a later window has a PTTL larger by a whole interval).
      if (failed) void counter.unhit(key, weight, ttlMs - (Date.now() - hitAt) + limits.intervalMs / 2);
    }
  };
  memoryOf.set(middleware, () => ({ blocked: blocked.size, fallback: local.size }));
  countersOf.set(middleware, counters);
  return middleware;
}

const countersOf = new WeakMap<RateLimitMiddleware, RateLimitCounters>();

/**
 * A snapshot of one limiter's counters (since it was built). The sum over every limiter and store
 * on a registry's connections is `featureCounters(registry).rateLimit` (Strapi: the `connections`
 * service's `counters()`).
 */
export function rateLimitCounters(middleware: RateLimitMiddleware): RateLimitCounters {
  const counters = countersOf.get(middleware);
  if (!counters) throw new TypeError('rateLimitCounters(): not a rate-limit middleware built by rateLimit() or plugin::redis.rateLimit');
  return { ...counters };
}

/** The in-process maps of each limiter, for tests (not part of the public API). */
const memoryOf = new WeakMap<RateLimitMiddleware, () => { blocked: number; fallback: number }>();

/** How many keys a limiter holds in memory: `inMemoryBlock` entries and `onError: 'memory'` counters. Internal (tests). */
export function limiterMemory(middleware: RateLimitMiddleware): { blocked: number; fallback: number } {
  const read = memoryOf.get(middleware);
  if (!read) throw new TypeError('not a rate-limit middleware built by rateLimit() or plugin::redis.rateLimit');
  return read();
}

/** `ctx.ip`: Koa's socket address, or X-Forwarded-For when `app.proxy` is on (Strapi: `server.proxy.koa`). */
function clientIp(ctx: RateLimitContext): string {
  return ctx.ip || 'unknown';
}

const limitsOf = (limits: Pick<LimiterClaim, 'intervalMs' | 'max' | 'delayAfter'>): string =>
  `interval ${limits.intervalMs} ms, max ${limits.max}${limits.delayAfter > 0 ? `, delayAfter ${limits.delayAfter}` : ''}`;

/**
 * Claim this limiter's key namespace on its client. Another limiter in the process already
 * counting there with other limits would share its counts (and the first to create a key would
 * set its window): a config error naming both.
 */
function claimKeys(connection: { name: string; client: object }, keyBase: string, limits: ResolvedRateLimitOptions, host: BuildHost): void {
  const claim: LimiterClaim = {
    intervalMs: limits.intervalMs,
    max: limits.max,
    delayAfter: limits.delayAfter,
    describe: () => `${host.origin()} with ${limitsOf(limits)}`,
  };
  const first = claimNamespace(connection.client, keyBase, claim);
  if (!first) return;
  const base = host.strapi ? 'config' : 'options';
  const value = `${JSON.stringify(limits.prefixKey)}${limits.prefixKey === RATE_LIMIT_DEFAULTS.prefixKey ? ' (the default)' : ''}`;
  throw new RateLimitConfigError(host.strapi ? `config of ${STRAPI_ID}` : 'options of rateLimit()', [
    {
      path: `${base}.prefixKey`,
      got: `${value}: its keys ${JSON.stringify(keyBase)}... on connection "${connection.name}" are already counted by ${first.describe()}`,
      expected:
        `a prefixKey of this limiter's own (${claim.describe()}): limiters share a count only when their interval, max and delayAfter are the same. ` +
        'Fix: give each limiter its own prefixKey (e.g. prefixKey: "api" and prefixKey: "login")',
    },
  ]);
}

/** `file:line:column` of the code that called `fn` (boot only: names a limiter in an error). */
function callSite(fn: (...args: never[]) => unknown): string | undefined {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, fn);
  const frame = holder.stack?.split('\n')[1]?.trim();
  if (!frame) return undefined;
  const inParens = /\((.*)\)$/.exec(frame);
  return inParens ? inParens[1] : frame.replace(/^at /, '');
}

/**
 * Where a `plugin::redis.rateLimit` config sits in the Strapi app: an entry of config/middlewares
 * or a route's `config.middlewares`, found by identity (Strapi hands the factory the object it holds).
 */
function locateInStrapi(strapi: unknown, config: unknown): string {
  const fallback = "(config/middlewares, or a route's config.middlewares)";
  if (typeof config !== 'object' || config === null) return fallback;
  const holds = (entry: unknown): boolean => typeof entry === 'object' && entry !== null && (entry as { config?: unknown }).config === config;
  try {
    const s = strapi as {
      config?: { get?(path: string): unknown };
      apis?: Record<string, { routes?: unknown }>;
      plugins?: Record<string, { routes?: unknown }>;
      admin?: { routes?: unknown };
    };
    const global = s.config?.get?.('middlewares');
    if (Array.isArray(global)) {
      const i = global.findIndex(holds);
      if (i !== -1) return `in config/middlewares (entry ${i + 1})`;
    }
    const owners: Array<[string, unknown]> = [
      ...Object.entries(s.apis ?? {}).map(([name, api]): [string, unknown] => [`api::${name}`, api?.routes]),
      ...Object.entries(s.plugins ?? {}).map(([name, plugin]): [string, unknown] => [`plugin::${name}`, plugin?.routes]),
      ['admin', s.admin?.routes],
    ];
    for (const [owner, routes] of owners) {
      // Strapi keeps an array of routes, or routers by name, each with its `routes` array.
      const list: unknown[] = Array.isArray(routes)
        ? routes
        : typeof routes === 'object' && routes !== null
          ? Object.values(routes).flatMap((r) => (Array.isArray((r as { routes?: unknown })?.routes) ? (r as { routes: unknown[] }).routes : []))
          : [];
      for (const route of list) {
        const r = route as { method?: unknown; path?: unknown; config?: { middlewares?: unknown } } | null;
        if (Array.isArray(r?.config?.middlewares) && r.config.middlewares.some(holds)) {
          return `on the route ${String(r.method)} ${String(r.path)} (config.middlewares of ${owner})`;
        }
      }
    }
  } catch {
    // a Strapi shape we do not know: fall back to naming both places
  }
  return fallback;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
