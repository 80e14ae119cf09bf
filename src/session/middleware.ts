/**
 * `plugin::redis.session` and its plain Koa twin: koa-session 7 with the Redis store, failing
 * closed with a 503 (never a silently empty session) when Redis cannot be reached.
 */
import { createSession, type CreateSessionOptions } from 'koa-session';
import type { Middleware } from 'koa';
import { markUsedBy } from '../core/usage.js';
import { describeValue, typeOf } from '../core/redact.js';
import { RedisSessionStore, SESSION_STORE_KEYS, SessionConfigError, SessionStoreUnavailableError, type RedisSessionStoreOptions } from './store.js';

/** koa-session's own options (key, maxAge, rolling, renew, httpOnly, signed, secure, sameSite, ...) plus the store's. */
export type RedisSessionOptions = Omit<CreateSessionOptions, 'store'> & RedisSessionStoreOptions;

/** Strapi's `strapi::session` defaults, so `plugin::redis.session` can replace it as is. */
export const STRAPI_SESSION_DEFAULTS: CreateSessionOptions = {
  key: 'koa.sess',
  maxAge: 86_400_000,
  autoCommit: true,
  overwrite: true,
  httpOnly: true,
  signed: true,
  rolling: false,
  renew: false,
  secure: process.env.NODE_ENV === 'production',
};

/** The 503 body, in Strapi's error format. */
function unavailable(ctx: Parameters<Middleware>[0], err: SessionStoreUnavailableError): void {
  ctx.status = 503;
  ctx.set('Retry-After', '1');
  ctx.body = { data: null, error: { status: 503, name: 'ServiceUnavailableError', message: err.message, details: {} } };
}

/**
 * A session middleware for a Koa app (the app's `keys` sign the cookie; every instance must share
 * them). Throws at once on invalid options.
 */
export function createRedisSession(app: { keys?: unknown }, options: RedisSessionOptions = {}): Middleware {
  if ((options as { store?: unknown }).store !== undefined) {
    const store = (options as { store?: unknown }).store;
    throw new SessionConfigError('options of plugin::redis.session', [
      {
        path: 'store',
        got: describeValue(store),
        expected: 'no store: do not pass `store`; it uses the Redis store on `connection`. To use another store, use strapi::session',
      },
    ]);
  }
  const storeOptions: RedisSessionStoreOptions = {};
  const sessionOptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (SESSION_STORE_KEYS.includes(k)) (storeOptions as Record<string, unknown>)[k] = v;
    else sessionOptions[k] = v;
  }
  const store = new RedisSessionStore(storeOptions);
  const session = createSession({ ...sessionOptions, store } as CreateSessionOptions, app);
  return async function redisSession(ctx, next) {
    try {
      await session(ctx, next);
    } catch (err) {
      if (!(err instanceof SessionStoreUnavailableError)) throw err;
      unavailable(ctx, err);
    }
  };
}

/** The Strapi middleware factory: `{ name: 'plugin::redis.session', config: { connection, ...koa-session options } }`. */
export function strapiRedisSession(config: unknown, { strapi }: { strapi: unknown }): Middleware {
  const app = (strapi as { server?: { app?: { keys?: unknown } } }).server?.app;
  const keys = app?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== 'string' || !k)) {
    throw new SessionConfigError('Strapi server config for plugin::redis.session', [
      {
        path: 'server.app.keys',
        // the keys are secrets: only their shape is shown
        got: Array.isArray(keys) ? `${keys.length} key(s), not all non-empty strings` : typeOf(keys),
        expected: 'app keys to sign the session cookie: set app.keys in config/server (non-empty strings, the same keys on every instance)',
      },
    ]);
  }
  const options: RedisSessionOptions = { ...STRAPI_SESSION_DEFAULTS, ...((config ?? {}) as RedisSessionOptions) };
  const middleware = createRedisSession(app!, options);
  if (!options.client && !options.registry) {
    // The store resolves its connection on first use; mark it now so the admin panel lists the
    // session from boot on. An unknown name is reported by the store, as before.
    try {
      const service = (strapi as { plugin?(id: string): { service?(name: string): { get?(name: string): unknown } | undefined } | undefined })
        .plugin?.('redis')
        ?.service?.('connections');
      markUsedBy(service?.get?.(options.connection ?? 'default'), 'session');
    } catch {
      // reported by the store on first use
    }
  }
  return middleware;
}
