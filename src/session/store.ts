/**
 * A koa-session 7 external store on a named Redis connection.
 *
 * koa-session's contract, handled exactly:
 * - `get(key, maxAge, { rolling, ctx })`: one GET.
 * - `set(key, sess, maxAge, { rolling, changed, ctx })`: one SET with PX. `maxAge` arrives as the
 *   cookie's maxAge + 10,000 ms (a number), or `'session'` (a browser-session cookie), or undefined:
 *   numbers are used as they are; `'session'` and undefined get `sessionTTL`. Never `'session'` into
 *   an expiry. Every key expires (bounded by `maxTTL`).
 * - `destroy(key, { ctx })`: one DEL.
 *
 * Failure policy: fail closed. A command that cannot be sent or answered within the bound throws a
 * `SessionStoreUnavailableError` (HTTP 503, exposed), so no request runs on a silently empty session
 * that would then overwrite the stored one. Stored data that is not JSON is treated as no session
 * and logged.
 */
import type { RedisClient } from '../core/client.js';
import { createSuiteLog, consoleLogger, type RedisLogger, type SuiteLog } from '../core/logger.js';
import { OutageLog } from '../core/outage.js';
import { RedisSuiteConfigError } from '../core/errors.js';
import type { RedisRegistry } from '../core/registry.js';
import { lazyConnection, type BoundedConnection } from '../core/resolve.js';
import { jsonValue, ms, options, parseOptions, str, z } from '../core/schema.js';

const DAY_MS = 86_400_000;
export const DEFAULT_SESSION_PREFIX = 'sess:';

/** Invalid options of the Redis session store or of `plugin::redis.session`. */
export class SessionConfigError extends RedisSuiteConfigError {
  override readonly name: string = 'SessionConfigError';
  override readonly code: string = 'REDIS_SUITE_SESSION_CONFIG';
}

/**
 * The store's options. Other keys are let through unchecked (as before: `createRedisSession`
 * hands koa-session's own options to koa-session, which checks them with its own schema).
 */
export const sessionStoreSchema = options(
  {
    /** A connection name from the plugin config (or the registry). @default 'default' */
    connection: z.custom<string>().optional(),
    /** Plain Koa: the registry from `createRedisRegistry`. */
    registry: z.custom<RedisRegistry>().optional(),
    /** Plain Koa: a raw ioredis client (Redis or Cluster). */
    client: z.custom<RedisClient>().optional(),
    /** Key prefix. */
    prefix: str("a non-empty string like 'sess:'", true).default(DEFAULT_SESSION_PREFIX),
    /** TTL for browser-session cookies (`maxAge: 'session'`) and sessions saved without a maxAge, in ms (default 1 day). */
    sessionTTL: ms(1).default(DAY_MS),
    /** Upper bound on any session's TTL, in ms (default 30 days). */
    maxTTL: ms(1).default(30 * DAY_MS),
    /** Bound on each Redis command, in ms. Default: the connection's requestTimeout. */
    timeout: ms(1).optional(),
    /** Where warnings go outside Strapi. Default console (Strapi: strapi.log). */
    logger: z.custom<RedisLogger>().optional(),
  },
  { open: true },
);

/** Options of `RedisSessionStore`, from its schema. */
export type RedisSessionStoreOptions = z.input<z.ZodObject<typeof sessionStoreSchema.shape>>;

/** The store keys among `plugin::redis.session`'s options (the others are koa-session's). */
export const SESSION_STORE_KEYS = Object.keys(sessionStoreSchema.shape);

export class SessionStoreUnavailableError extends Error {
  override readonly name = 'SessionStoreUnavailableError';
  readonly code = 'REDIS_SUITE_SESSION_UNAVAILABLE';
  /** Read by Koa and Strapi's error middleware. */
  readonly status = 503;
  readonly expose = true;
  constructor(options?: { cause?: unknown }) {
    super('Session storage is unavailable. Try again shortly.', options);
  }
}

interface KoaSessionGetOptions {
  rolling?: boolean;
  ctx?: unknown;
}
interface KoaSessionSetOptions extends KoaSessionGetOptions {
  changed?: boolean;
}

/** In-process counters of a Redis session store (since it was created). */
export interface SessionCounters {
  /** Session reads that found a session. */
  loaded: number;
  /** Session reads that found none (new visitor, expired, or unreadable data). */
  missing: number;
  /** Sessions written. */
  saved: number;
  /** Sessions removed (logout, regenerate). */
  destroyed: number;
  /** Stored values that were not a JSON object (removed, treated as no session). */
  corrupt: number;
  /** Commands that failed (not ready, timed out, or an error reply): the request got 503. */
  failures: number;
}

/** A fresh set of session counters, all zero. */
export const zeroSessionCounters = (): SessionCounters => ({ loaded: 0, missing: 0, saved: 0, destroyed: 0, corrupt: 0, failures: 0 });

// The key prefixes of every Redis session store created in this process (shared by the CommonJS
// and the ESM build, like the counters): the admin API protects these keys and withholds their
// values (a session's data is as good as its credentials).
const PREFIXES_KEY = Symbol.for('strapi-plugin-redis-suite.session-prefixes');
const sessionPrefixesStore = ((globalThis as Record<symbol, unknown>)[PREFIXES_KEY] ??= new Set<string>()) as Set<string>;

/** The key prefix of every Redis session store created in this process, and the default (`sess:`). */
export function sessionKeyPrefixes(): string[] {
  return [...new Set([DEFAULT_SESSION_PREFIX, ...sessionPrefixesStore])];
}

export class RedisSessionStore {
  readonly prefix: string;
  readonly sessionTTL: number;
  readonly maxTTL: number;
  readonly #timeout: number | undefined;
  readonly #conn: () => BoundedConnection;
  readonly #logger: RedisLogger | undefined;
  #log: SuiteLog | undefined;
  readonly #outage: OutageLog;
  readonly #counters = zeroSessionCounters();

  constructor(options: RedisSessionStoreOptions = {}) {
    const parsed = parseOptions(sessionStoreSchema, options, {
      root: '',
      render: jsonValue,
      error: (issues) => new SessionConfigError('options of the Redis session store', issues),
    });
    this.prefix = parsed.prefix;
    sessionPrefixesStore.add(this.prefix);
    this.sessionTTL = parsed.sessionTTL;
    this.maxTTL = parsed.maxTTL;
    this.#timeout = parsed.timeout;
    this.#logger = options.logger;
    // Created in config/middlewares.ts, before connections exist: resolved on first use.
    const what = `the Redis session store (connection "${options.connection ?? 'default'}")`;
    this.#conn = lazyConnection(options, what, { feature: 'session', counted: { feature: 'session', read: () => this.counters } });
    this.#outage = new OutageLog(() => this.#logs(), `session store (connection "${options.connection ?? 'default'}")`, 'requests that need a session get 503');
  }

  /** A snapshot of this store's counters (since it was created). */
  get counters(): SessionCounters {
    return { ...this.#counters };
  }

  /** The expiry for a koa-session maxAge, in ms. */
  ttlFor(maxAge: unknown): number {
    const ms = typeof maxAge === 'number' && Number.isFinite(maxAge) && maxAge > 0 ? Math.ceil(maxAge) : this.sessionTTL;
    return Math.min(ms, this.maxTTL);
  }

  async get(key: string, _maxAge?: unknown, _options?: KoaSessionGetOptions): Promise<Record<string, unknown> | undefined> {
    const raw = await this.#run((client) => client.get(this.prefix + key));
    if (raw === null || raw === undefined) {
      this.#counters.missing++;
      return undefined;
    }
    try {
      const data: unknown = JSON.parse(raw);
      if (data && typeof data === 'object' && !Array.isArray(data)) {
        this.#counters.loaded++;
        return data as Record<string, unknown>;
      }
      throw new Error('not a JSON object');
    } catch (err) {
      this.#counters.corrupt++;
      this.#counters.missing++;
      this.#logs().warn(`session ${this.prefix}<id> holds data that is not a JSON object (${(err as Error).message}); treated as no session`);
      // removing it keeps the next request from hitting it again; bounded and best effort
      this.#run((client) => client.del(this.prefix + key)).catch(() => undefined);
      return undefined;
    }
  }

  async set(key: string, sess: unknown, maxAge?: unknown, _options?: KoaSessionSetOptions): Promise<void> {
    await this.#run((client) => client.set(this.prefix + key, JSON.stringify(sess), 'PX', this.ttlFor(maxAge)));
    this.#counters.saved++;
  }

  async destroy(key: string, _options?: { ctx?: unknown }): Promise<void> {
    await this.#run((client) => client.del(this.prefix + key));
    this.#counters.destroyed++;
  }

  #logs(): SuiteLog {
    if (!this.#log) {
      const strapiLog = (globalThis as { strapi?: { log?: RedisLogger } }).strapi?.log;
      this.#log = createSuiteLog(this.#logger ?? strapiLog ?? consoleLogger, 'session');
    }
    return this.#log;
  }

  async #run<T>(command: (client: RedisClient) => Promise<T>): Promise<T> {
    // A missing plugin or unknown connection name is a setup error, not an outage: let it through.
    const conn = this.#conn();
    let result: T;
    try {
      result = await conn.run(command, this.#timeout);
    } catch (err) {
      this.#counters.failures++;
      this.#outage.failed(err);
      throw new SessionStoreUnavailableError({ cause: err });
    }
    this.#outage.ok();
    return result;
  }
}

/** Create a koa-session store; usable as `{ name: 'strapi::session', config: { store: redisSessionStore({ connection }) } }`. */
export function redisSessionStore(options: RedisSessionStoreOptions = {}): RedisSessionStore {
  return new RedisSessionStore(options);
}
