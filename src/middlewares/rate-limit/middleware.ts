/**
 * The rate-limit middleware: `plugin::redis.rateLimit` in Strapi, `rateLimit()` in a plain Koa app.
 *
 * Per request: match methods/paths, `skip`, find the bucket (client IP, IPv6 by its `ipv6Subnet`
 * prefix; user; or `keyGenerator`),
 * `whitelist`, then ONE atomic script call (INCRBY weight, PEXPIRE when the key has no TTL, return
 * count and PTTL), headers, and either the limit response, a delay, or `next()`. Everything else
 * (options, paths, the connection, the script registration) is settled once, in the factory.
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

function build(o: ResolvedRateLimitOptions, source: RateLimitOptions, host: BuildHost): RateLimitMiddleware {
  if (!o.enabled) {
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
      { path: `${base}.connection`, got: JSON.stringify(typeof source.connection === 'string' ? source.connection : 'default'), expected: (err as Error).message },
    ]);
  }
  const counters = zeroRateLimitCounters();
  const counter = new WindowCounter(() => connection, {
    counters,
    policy: o.onError === 'memory' ? 'memory' : o.failOpen ? 'open' : 'closed',
    timeoutMs: o.requestTimeout,
    log: () => log,
    coalesce: o.coalesce,
  });
  void counter.connection; // register the scripts now, not on the first request
  const inStrapi = host.strapi !== undefined;
  const keyBase = `${o.keyPrefix}${o.prefixKey}:`;
  claimKeys(connection, keyBase, o, host);
  const filterPaths = o.paths !== null || o.excludePaths.length > 0;
  const headerLimit = String(o.max);
  const policy = `${o.max};w=${Math.ceil(o.intervalMs / 1000)}`;

  const limitBody = (): unknown => {
    if (typeof o.message !== 'string') return o.message;
    return inStrapi
      ? { data: null, error: { status: o.statusCode, name: 'RateLimitError', message: o.message, details: {} } }
      : { [o.messageKey]: o.message };
  };
  // In-process maps, each capped at memoryMaxKeys (least recently used dropped first) and swept by
  // an unref'd timer while it holds something, so keys that stop coming leave without traffic.
  const sweepEveryMs = Math.max(100, Math.min(o.intervalMs, 10_000));
  /** `inMemoryBlock`: limited keys and when their window resets (performance.now() ms). */
  const blocked = new ExpiringLru<{ expiresAt: number }>(o.memoryMaxKeys, sweepEveryMs);
  const blockedFor = (key: string): number => {
    const entry = blocked.get(key);
    return entry === undefined ? 0 : entry.expiresAt - now();
  };
  const block = (key: string, ttlMs: number): void => {
    blocked.set(key, { expiresAt: now() + ttlMs });
  };

  /** `onError: 'memory'`: fixed windows in this process, used only while Redis fails; dropped when it answers again. */
  const local = new ExpiringLru<{ count: number; expiresAt: number }>(o.memoryMaxKeys, sweepEveryMs);
  const memoryHit = (key: string, weight: number): { count: number; ttlMs: number } => {
    const t = now();
    let w = local.get(key);
    if (!w) {
      w = { count: 0, expiresAt: t + o.intervalMs };
      local.set(key, w);
    }
    w.count += weight;
    return { count: w.count, ttlMs: Math.max(1, Math.ceil(w.expiresAt - t)) };
  };

  const unavailable = (ctx: RateLimitContext): void => {
    const message = 'Rate limiting is unavailable, please try again later.';
    ctx.status = 503;
    ctx.body = inStrapi
      ? { data: null, error: { status: 503, name: 'ServiceUnavailableError', message, details: {} } }
      : { [o.messageKey]: message };
  };

  /**
   * The bucket of a request, or null when it is not counted (method, path, `skip`, `whitelist`).
   * By default the client IP (`ctx.ip`) or the user id: never a request field the client chooses.
   */
  const identify = async (ctx: RateLimitContext): Promise<string | null> => {
    if (o.methods !== null && !o.methods.has(ctx.method)) return null;
    if (filterPaths) {
      const path = normalizePath(ctx.path);
      if ((o.paths !== null && !matchesPath(o.paths, path)) || matchesPath(o.excludePaths, path)) return null;
    }
    if (o.skip && (await o.skip(ctx))) return null;
    if (o.keyGenerator) {
      const id = String(await o.keyGenerator(ctx));
      return o.whitelist.has(id) ? null : id;
    }
    const ip = clientIp(ctx);
    if (o.whitelist.has(ip) || o.whitelist.has(canonicalIp(ip))) return null;
    if (o.keyBy === 'user') {
      const id = o.getUserId ? await o.getUserId(ctx) : ctx.state?.user?.id;
      if (id !== undefined && id !== null && id !== '') return o.whitelist.has(String(id)) ? null : `user:${String(id)}`;
    }
    return `ip:${ipBucket(ip, o.ipv6Subnet)}`;
  };

  const middleware: RateLimitMiddleware = async function redisRateLimit(ctx, next) {
    const identity = await identify(ctx);
    if (identity === null) {
      await next();
      return;
    }
    const weight = typeof o.weight === 'number' ? o.weight : await o.weight(ctx);
    if (!Number.isInteger(weight) || weight < 0) {
      throw new TypeError(`rate limit: the weight function returned ${String(weight)}; it must return an integer >= 0.`);
    }
    const key = boundKey(keyBase, identity);

    let count: number;
    let ttlMs: number;
    const hitAt = Date.now();
    const blockedMs = o.inMemoryBlock ? blockedFor(key) : 0;
    if (blockedMs > 0) {
      // Limited before on this instance and its window has not reset: answer without Redis.
      count = o.max + Math.max(weight, 1);
      ttlMs = blockedMs;
    } else {
      try {
        ({ count, ttlMs } = await counter.hit(key, weight, o.intervalMs));
        // Redis answers again: the outage's in-process windows are over (the next outage starts afresh).
        if (local.size > 0) local.clear();
      } catch {
        // Logged once per outage by the counter.
        if (o.onError === 'memory') {
          ({ count, ttlMs } = memoryHit(key, weight));
        } else {
          if (!o.failOpen) return unavailable(ctx);
          await next();
          return;
        }
      }
    }

    const remaining = o.max > 0 ? Math.max(0, o.max - count) : 0;
    const resetS = Math.max(1, Math.ceil(ttlMs / 1000));
    const info: RateLimitInfo = { key, limit: o.max, current: count, remaining, reset: Math.ceil((hitAt + ttlMs) / 1000), resetMs: ttlMs };
    ctx.state.rateLimit = info;
    if (o.max > 0) {
      if (o.headers) {
        ctx.set('RateLimit-Limit', headerLimit);
        ctx.set('RateLimit-Remaining', String(remaining));
        ctx.set('RateLimit-Reset', String(resetS));
        ctx.set('RateLimit-Policy', policy);
      }
      if (o.legacyHeaders) {
        ctx.set('X-RateLimit-Limit', headerLimit);
        ctx.set('X-RateLimit-Remaining', String(remaining));
        ctx.set('X-RateLimit-Reset', String(info.reset));
      }
      if (count > o.max) {
        counters.limited++;
        if (o.inMemoryBlock && blockedMs === 0) block(key, ttlMs);
        if (o.headers) ctx.set('Retry-After', String(resetS));
        if (o.onLimitReached) await o.onLimitReached(ctx, info);
        if (o.handler) {
          await o.handler(ctx, info);
        } else {
          ctx.status = o.statusCode;
          ctx.body = limitBody();
        }
        return;
      }
    }
    counters.passed++;
    if (o.delayAfter > 0 && count > o.delayAfter) {
      counters.delayed++;
      await sleep(Math.min((count - o.delayAfter) * o.timeWaitMs, ttlMs));
    }
    if (!o.skipFailedRequests) {
      await next();
      return;
    }

    let failed = true;
    try {
      await next();
      failed = ctx.status >= 400;
    } finally {
      // Take the hit back in its own window (a later window has a PTTL larger by a whole interval).
      if (failed) void counter.unhit(key, weight, ttlMs - (Date.now() - hitAt) + o.intervalMs / 2);
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

const limitsOf = (o: Pick<LimiterClaim, 'intervalMs' | 'max' | 'delayAfter'>): string =>
  `interval ${o.intervalMs} ms, max ${o.max}${o.delayAfter > 0 ? `, delayAfter ${o.delayAfter}` : ''}`;

/**
 * Claim this limiter's key namespace on its client. Another limiter in the process already
 * counting there with other limits would share its counts (and the first to create a key would
 * set its window): a config error naming both.
 */
function claimKeys(connection: { name: string; client: object }, keyBase: string, o: ResolvedRateLimitOptions, host: BuildHost): void {
  const claim: LimiterClaim = { intervalMs: o.intervalMs, max: o.max, delayAfter: o.delayAfter, describe: () => `${host.origin()} with ${limitsOf(o)}` };
  const first = claimNamespace(connection.client, keyBase, claim);
  if (!first) return;
  const base = host.strapi ? 'config' : 'options';
  const value = `${JSON.stringify(o.prefixKey)}${o.prefixKey === RATE_LIMIT_DEFAULTS.prefixKey ? ' (the default)' : ''}`;
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
function callSite(fn: Function): string | undefined {
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
          ? Object.values(routes).flatMap((r) => (Array.isArray((r as { routes?: unknown })?.routes) ? ((r as { routes: unknown[] }).routes) : []))
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
