/**
 * The rate-limit middleware: `plugin::redis.rateLimit` in Strapi, `rateLimit()` in a plain Koa app.
 *
 * Per request: match methods/paths, `skip`, find the bucket (client IP, user, or `keyGenerator`),
 * `whitelist`, then ONE atomic script call (INCRBY weight, PEXPIRE when the key has no TTL, return
 * count and PTTL), headers, and either the limit response, a delay, or `next()`. Everything else
 * (options, paths, the connection, the script registration) is settled once, in the factory.
 */
import { consoleLogger, createSuiteLog, type RedisLogger, type SuiteLog } from '../../core/logger.js';
import { RateLimitConfigError } from './errors.js';
import {
  matchesPath,
  normalizePath,
  resolveRateLimitOptions,
  type RateLimitContext,
  type RateLimitInfo,
  type RateLimitOptions,
  type ResolvedRateLimitOptions,
} from './options.js';
import { now } from '../../core/time.js';
import { counters } from './shared.js';
import { boundKey, resolveConnection, WindowCounter, type StrapiHost } from './source.js';

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
  return build(resolved, options, { strapi: undefined, where: 'rateLimit() options', log: resolved.logger ?? consoleLogger });
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
  return build(resolved, (config ?? {}) as RateLimitOptions, { strapi: host, where: `${STRAPI_ID} config.connection`, log: resolved.logger ?? host.log });
}

interface BuildHost {
  strapi: StrapiHost | undefined;
  where: string;
  log: RedisLogger;
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
    connection = resolveConnection(source, host.where, host.strapi);
  } catch (err) {
    const base = host.strapi ? 'config' : 'options';
    throw new RateLimitConfigError(host.strapi ? `config of ${STRAPI_ID}` : 'options of rateLimit()', [
      { path: `${base}.connection`, got: JSON.stringify(typeof source.connection === 'string' ? source.connection : 'default'), expected: (err as Error).message },
    ]);
  }
  const counter = new WindowCounter(() => connection, {
    policy: o.onError === 'memory' ? 'memory' : o.failOpen ? 'open' : 'closed',
    timeoutMs: o.requestTimeout,
    log: () => log,
    coalesce: o.coalesce,
  });
  void counter.connection; // register the scripts now, not on the first request
  const inStrapi = host.strapi !== undefined;
  const keyBase = `${o.keyPrefix}${o.prefixKey}:`;
  const filterPaths = o.paths !== null || o.excludePaths.length > 0;
  const headerLimit = String(o.max);
  const policy = `${o.max};w=${Math.ceil(o.intervalMs / 1000)}`;

  const limitBody = (): unknown => {
    if (typeof o.message !== 'string') return o.message;
    return inStrapi
      ? { data: null, error: { status: o.statusCode, name: 'RateLimitError', message: o.message, details: {} } }
      : { [o.messageKey]: o.message };
  };
  /** `inMemoryBlock`: limited keys and when their window resets (performance.now() ms). */
  const blocked = new Map<string, number>();
  let nextSweep = 0;
  const blockedFor = (key: string): number => {
    const until = blocked.get(key);
    if (until === undefined) return 0;
    const left = until - now();
    if (left > 0) return left;
    blocked.delete(key);
    return 0;
  };
  const block = (key: string, ttlMs: number): void => {
    const t = now();
    if (t >= nextSweep && blocked.size > 0) {
      // Drop expired entries now and then, so a flood of distinct keys cannot grow the map for long.
      for (const [k, until] of blocked) if (until <= t) blocked.delete(k);
      nextSweep = t + Math.min(o.intervalMs, 10_000);
    }
    blocked.set(key, t + ttlMs);
  };

  /** `onError: 'memory'`: fixed windows in this process, used only while Redis fails. */
  const local = new Map<string, { count: number; resetAt: number }>();
  let nextLocalSweep = 0;
  const memoryHit = (key: string, weight: number): { count: number; ttlMs: number } => {
    const t = now();
    if (t >= nextLocalSweep && local.size > 0) {
      for (const [k, w] of local) if (w.resetAt <= t) local.delete(k);
      nextLocalSweep = t + Math.min(o.intervalMs, 10_000);
    }
    let w = local.get(key);
    if (!w || w.resetAt <= t) {
      w = { count: 0, resetAt: t + o.intervalMs };
      local.set(key, w);
    }
    w.count += weight;
    return { count: w.count, ttlMs: Math.max(1, Math.ceil(w.resetAt - t)) };
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
    if (o.whitelist.has(ip)) return null;
    if (o.keyBy === 'user') {
      const id = o.getUserId ? await o.getUserId(ctx) : ctx.state?.user?.id;
      if (id !== undefined && id !== null && id !== '') return o.whitelist.has(String(id)) ? null : `user:${String(id)}`;
    }
    return `ip:${ip}`;
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
  return middleware;
}

/** The in-process maps of each limiter, for tests (not part of the public API). */
const memoryOf = new WeakMap<RateLimitMiddleware, () => { blocked: number; fallback: number }>();

/** How many keys a limiter holds in memory: `inMemoryBlock` entries and `onError: 'memory'` counters. Internal (tests). */
export function limiterMemory(middleware: RateLimitMiddleware): { blocked: number; fallback: number } {
  const read = memoryOf.get(middleware);
  if (!read) throw new TypeError('not a rate-limit middleware built by rateLimit() or plugin::redis.rateLimit');
  return read();
}

/** `ctx.ip` (Koa: the socket address, or X-Forwarded-For when `app.proxy` is on), IPv4-mapped IPv6 unwrapped. */
function clientIp(ctx: RateLimitContext): string {
  const ip = ctx.ip;
  if (!ip) return 'unknown';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
