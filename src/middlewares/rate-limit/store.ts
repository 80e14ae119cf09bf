/**
 * A koa2-ratelimit `Store` on a named Redis connection, for Strapi's own limiters:
 *
 * ```ts
 * // config/admin.ts
 * import { RedisRateLimitStore } from 'strapi-plugin-redis-suite';
 * export default () => ({ rateLimit: { store: new RedisRateLimitStore({ connection: 'default' }) } });
 * // config/plugins.ts: 'users-permissions': { config: { ratelimit: { store: new RedisRateLimitStore() } } }
 * ```
 *
 * Strapi builds a koa2-ratelimit `RateLimit` per request and checks `store instanceof Store` of the
 * koa2-ratelimit copy it loads, so this class extends the copy resolved from this package: npm
 * dedupes the two when the versions match (both 1.1.3).
 *
 * The contract, as koa2-ratelimit 1.1.3 calls it (`src/RateLimit.js`):
 * - `await incr(key, options, weight)` -> `{ counter, dateEnd }`; `options.interval` is already in ms,
 *   `dateEnd` is read with `new Date(dateEnd).getTime()`.
 * - `decrement(key, options, weight)` inside a response `'finish'` listener, not awaited: must never throw or reject.
 *   It carries no hit time; `options` is the `RateLimit`'s own options object, the same one its
 *   `incr` got (Strapi builds a `RateLimit` per request, so per request), which ties it to its hit.
 * - `saveAbuse(options)`, not awaited: must never throw or reject.
 *
 * Config files load before any connection exists, so the connection is looked up on first use.
 */
import koa2RateLimit from 'koa2-ratelimit';
import { consoleLogger, createSuiteLog, type RedisLogger, type SuiteLog } from '../../core/logger.js';
import { describeValue } from '../../core/redact.js';
import { bool, options, parseOptions, str, type z } from '../../core/schema.js';
import { RateLimitConfigError, RateLimitUnavailableError } from './errors.js';
import { loggerOption, sourceShape } from './options.js';
import { now } from '../../core/time.js';
import { ExpiringLru } from './memory.js';
import { zeroRateLimitCounters, type RateLimitCounters } from './shared.js';
import type { BoundedConnection } from '../../core/resolve.js';
import { boundKey, resolveSource, WindowCounter, type StrapiHost } from './source.js';

export const storeSchema = options(
  {
    ...sourceShape,
    /** First part of every Redis key (Strapi's key follows, e.g. `<email>:/admin/login:<ip>|<ip>`). */
    keyPrefix: str('a string, e.g. "rl:"').default('rl:'),
    /** When Redis fails: true counts nothing and lets the request through (one warning per outage); false refuses it (Strapi answers 503). */
    failOpen: bool().default(true),
    /** Where outage warnings go. Default strapi.log inside Strapi, else console. */
    logger: loggerOption,
    /** Send concurrent hits on one key as one script call; each still gets its exact count. */
    coalesce: bool().default(true),
  },
  { expected: 'an object ({ connection, keyPrefix, failOpen, ... })' },
);

/** Options of `RedisRateLimitStore`, from its schema. */
export type RedisRateLimitStoreOptions = z.input<typeof storeSchema>;

/** What koa2-ratelimit's `incr` returns. */
export interface StoreHit {
  /** The count in the current window, this request included. */
  counter: number;
  /** When the window resets, in epoch ms. */
  dateEnd: number;
}

/** The koa2-ratelimit `Store` base class of the copy this package resolves (typed here: it ships no types). */
const StoreBase = koa2RateLimit.Stores.Store as unknown as new () => object;

const WHERE = 'options of RedisRateLimitStore';

/** How many (options object, key) pairs the store remembers hits of, for `decrement`. */
export const STORE_REMEMBERED_HITS = 10_000;

/** Hits counted in one window: when it ends (`now()` ms) and how many not yet taken back. */
interface Run {
  endsAt: number;
  hits: number;
}
/** The hits of one key under one options object, oldest window first. */
interface Remembered {
  runs: Run[];
  intervalMs: number;
  /** One interval after the last window's end: a take-back is not expected later. */
  expiresAt: number;
}

/** Ids of koa2-ratelimit options objects (dropped with them). */
const optionIds = new WeakMap<object, number>();
let nextOptionId = 1;
const idOf = (options: object): number => {
  let id = optionIds.get(options);
  if (id === undefined) optionIds.set(options, (id = nextOptionId++));
  return id;
};

export class RedisRateLimitStore extends StoreBase {
  readonly keyPrefix: string;
  readonly failOpen: boolean;
  #source: RedisRateLimitStoreOptions;
  #counter: WindowCounter;
  #log: SuiteLog | undefined;
  /**
   * The hits `incr` counted, by options object and key, so `decrement` takes a hit back only in
   * the window it was counted in (capped, least recently used dropped: then nothing is taken back).
   */
  #hits = new ExpiringLru<Remembered>(STORE_REMEMBERED_HITS, 10_000);
  readonly #counters = zeroRateLimitCounters();

  constructor(options: RedisRateLimitStoreOptions = {}) {
    const parsed = parseOptions(storeSchema, options, { root: 'options', error: (issues) => new RateLimitConfigError(WHERE, issues) });
    super();
    this.keyPrefix = parsed.keyPrefix;
    this.failOpen = parsed.failOpen;
    this.#source = { ...options };
    this.#counter = new WindowCounter(() => this.#resolve(), {
      counters: this.#counters,
      policy: this.failOpen ? 'open' : 'closed',
      timeoutMs: options.requestTimeout,
      log: () => this.#logger(),
      coalesce: parsed.coalesce,
    });
  }

  /** A snapshot of this store's counters (since it was created). */
  get counters(): RateLimitCounters {
    return { ...this.#counters };
  }

  #resolve(): BoundedConnection {
    return resolveSource(this.#source, 'RedisRateLimitStore', (globalThis as { strapi?: StrapiHost }).strapi);
  }

  #logger(): SuiteLog {
    if (!this.#log) {
      const host = this.#source.logger ?? (globalThis as { strapi?: { log?: RedisLogger } }).strapi?.log ?? consoleLogger;
      this.#log = createSuiteLog(host, 'rate-limit-store');
    }
    return this.#log;
  }

  /** Count a hit: one atomic script call. */
  async incr(key: string, options: { interval?: unknown } = {}, weight: unknown = 1): Promise<StoreHit> {
    const intervalMs = intervalOf(options);
    const w = weightOf(weight);
    const conn = this.#counter.connection; // a wrong connection name throws here, loudly, every time
    const redisKey = this.#key(key);
    try {
      const { count, ttlMs } = await this.#counter.hit(redisKey, w, intervalMs);
      this.#counters.passed++;
      if (typeof options === 'object' && options !== null) this.#remember(options, redisKey, intervalMs, now() + ttlMs);
      return { counter: count, dateEnd: Date.now() + ttlMs };
    } catch (err) {
      // Logged once per outage by the counter.
      if (this.failOpen) return { counter: 0, dateEnd: Date.now() + intervalMs };
      throw new RateLimitUnavailableError(conn.name, { cause: err });
    }
  }

  /**
   * Take a hit back (koa2-ratelimit's `skipFailedRequests`), in the window it was counted in: the
   * oldest hit `incr` counted for this key under this same options object. Nothing is taken back
   * when there is none (never counted, counted while Redis failed, or forgotten) or its window has
   * ended: a newer window's count never drops. Never rejects.
   */
  decrement(key: string, options: { interval?: unknown } = {}, weight: unknown = 1): Promise<void> {
    if (typeof options !== 'object' || options === null) return Promise.resolve();
    const redisKey = this.#key(key);
    const id = `${idOf(options)}\u0000${redisKey}`;
    const entry = this.#hits.get(id);
    if (!entry) return Promise.resolve();
    const t = now();
    prune(entry, t);
    const run = entry.runs[0];
    if (!run) {
      this.#hits.delete(id);
      return Promise.resolve();
    }
    run.hits--;
    if (run.hits === 0) entry.runs.shift();
    if (entry.runs.length === 0) this.#hits.delete(id);
    const left = run.endsAt - t;
    if (left <= 0) return Promise.resolve(); // its window is over
    // As the middleware does: a newer window has a PTTL larger by at least a whole interval.
    return this.#counter.unhit(redisKey, weightOf(weight), left + entry.intervalMs / 2);
  }

  /** Remember a hit on `redisKey` (bounded in length) counted in the window ending at `endsAt` (`now()` ms). */
  #remember(options: object, redisKey: string, intervalMs: number, endsAt: number): void {
    const id = `${idOf(options)}\u0000${redisKey}`;
    const t = now();
    const entry = this.#hits.get(id) ?? { runs: [], intervalMs, expiresAt: 0 };
    prune(entry, t);
    const last = entry.runs[entry.runs.length - 1];
    // Windows of one key are at least an interval apart: an end within half of one is the same window.
    if (last && Math.abs(last.endsAt - endsAt) < intervalMs / 2) last.hits++;
    else entry.runs.push({ endsAt, hits: 1 });
    entry.intervalMs = intervalMs;
    entry.expiresAt = Math.max(entry.expiresAt, endsAt + intervalMs);
    this.#hits.set(id, entry);
  }

  /**
   * koa2-ratelimit calls it for each request over the limit (unless the config has its own
   * `onLimitReached`): nothing is stored; the request moves from the `passed` counter (counted by
   * `incr`) to `limited`.
   */
  saveAbuse(): void {
    this.#counters.passed--;
    this.#counters.limited++;
  }

  #key(key: string): string {
    return boundKey(this.keyPrefix, String(key));
  }
}

/** Forget hits whose window ended more than an interval ago: a take-back is not expected for them any more. */
function prune(entry: Remembered, t: number): void {
  while (entry.runs.length > 0 && entry.runs[0]!.endsAt + entry.intervalMs <= t) entry.runs.shift();
}

function intervalOf(options: { interval?: unknown }): number {
  const v = options?.interval;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 1) {
    throw new RateLimitConfigError('interval koa2-ratelimit passed to RedisRateLimitStore', [
      {
        path: 'interval',
        got: describeValue(v),
        expected: 'milliseconds >= 1: check the `interval` of the rate limit config that uses this store (e.g. admin.rateLimit.interval)',
      },
    ]);
  }
  return Math.ceil(v);
}

function weightOf(weight: unknown): number {
  return typeof weight === 'number' && Number.isInteger(weight) && weight >= 0 ? weight : 1;
}
