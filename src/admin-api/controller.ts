/**
 * The admin controller: parses the request, calls a view/action, answers `{ data }`, and maps
 * failures to Strapi's error format: 400/404 from the admin API, 404 for an unknown connection,
 * 503 when Redis is not ready or too slow, 502 when Redis answers with an error. Every message
 * goes through `redactText`. Destructive actions are logged with the admin's id.
 */
import type { CronGuard } from '../core/cron-guard.js';
import { RedisTimeoutError, RedisUnavailableError, UnknownConnectionError } from '../core/errors.js';
import type { RedisLogger } from '../core/logger.js';
import { redactText } from '../core/redact.js';
import type { RedisRegistry } from '../core/registry.js';
import { cacheView, purgeCache } from './cache.js';
import { cronView } from './cron.js';
import { AdminApiError } from './errors.js';
import { deleteByPattern, deleteKey, keyValue, scanKeys } from './keys.js';
import { ACTIONS } from './permissions.js';
import { protectedFamilies } from './protected.js';
import { connectionsView, serverView } from './server.js';
import { statsView } from './stats.js';
import { INSTANCE_ID } from '../core/cron-history.js';
import { healthView, type HealthSampler } from './health.js';
import { memoryPage } from './memory.js';
import { slowlogView } from './slowlog.js';
import { setKeyTtl } from './ttl.js';

/** The part of a Koa context (as Strapi hands it) the controller uses. */
export interface AdminContext {
  params: Record<string, string | undefined>;
  query: Record<string, unknown>;
  request: { body?: unknown };
  /** `userAbility`: the admin's permissions (Strapi's CASL ability, set by the admin auth strategy). */
  state: { user?: { id?: unknown }; userAbility?: { can(action: string, subject?: unknown): boolean } };
  status: number;
  body: unknown;
}

export interface AdminApiHost {
  registry(): RedisRegistry;
  guard(): CronGuard | undefined;
  /** The object cache middlewares are tracked on (the Strapi instance). */
  cacheHost: object;
  log: RedisLogger;
  /** The health sampler of this instance (undefined: `settings.healthSampling` is off). */
  health?(): HealthSampler | undefined;
}

type Handler = (ctx: AdminContext) => Promise<void>;

function failure(err: unknown): { status: number; name: string; message: string; details?: object } | undefined {
  if (err instanceof AdminApiError) return { status: err.status, name: err.name, message: err.message, details: err.details };
  if (err instanceof UnknownConnectionError) return { status: 404, name: 'NotFoundError', message: err.message };
  if (err instanceof RedisUnavailableError || err instanceof RedisTimeoutError) return { status: 503, name: 'ServiceUnavailableError', message: err.message };
  const e = err as { name?: string; message?: string } | null;
  if (e?.name === 'ClusterAllFailedError' || e?.name === 'MaxRetriesPerRequestError')
    return { status: 503, name: 'ServiceUnavailableError', message: `Redis is unavailable: ${e.message}` };
  if (e?.name === 'ReplyError') return { status: 502, name: 'BadGatewayError', message: `Redis answered with an error: ${e.message}` };
  return undefined;
}

function handler(fn: (ctx: AdminContext) => Promise<unknown>): Handler {
  return async function redisAdmin(ctx) {
    try {
      const data = await fn(ctx);
      ctx.status = 200;
      ctx.body = { data };
    } catch (err) {
      const f = failure(err);
      if (!f) throw err; // Strapi's error middleware answers 500 and logs it
      ctx.status = f.status;
      ctx.body = { data: null, error: { status: f.status, name: f.name, message: redactText(f.message), details: f.details ?? {} } };
    }
  };
}

const adminId = (ctx: AdminContext): string => {
  const id = ctx.state.user?.id;
  return typeof id === 'number' || typeof id === 'string' ? String(id) : 'unknown';
};

export function createAdminController(host: AdminApiHost): Record<string, Handler> {
  const connection = (ctx: AdminContext) => host.registry().get(ctx.params.name ?? '');
  const log = (ctx: AdminContext, what: string) => host.log.info(`[redis] admin ${adminId(ctx)} ${redactText(what)}`);
  // From the live config on every request: caches and session stores may be created late.
  const families = () => protectedFamilies(host.cacheHost, host.guard());
  return {
    connections: handler(() => connectionsView(host.registry())),
    server: handler((ctx) => serverView(connection(ctx))),
    keys: handler((ctx) => scanKeys(connection(ctx), ctx.query)),
    key: handler((ctx) =>
      keyValue(connection(ctx), ctx.query, {
        canReadSessions: ctx.state.userAbility?.can(ACTIONS.keysReadSessions) === true,
        protected: families(),
      }),
    ),
    deleteKey: handler(async (ctx) => {
      const conn = connection(ctx);
      const { key, deleted } = await deleteKey(conn, ctx.query);
      log(ctx, `deleted key ${JSON.stringify(key)} on connection "${conn.name}" (${deleted} removed)`);
      return { deleted };
    }),
    deleteKeys: handler(async (ctx) => {
      const conn = connection(ctx);
      const { pattern, deleted, complete, elapsedMs } = await deleteByPattern(conn, (ctx.request.body ?? {}) as Record<string, unknown>, {
        protected: families(),
      });
      log(
        ctx,
        `deleted keys matching ${JSON.stringify(pattern)} on connection "${conn.name}" (${deleted} removed${complete ? '' : `, stopped by the ${elapsedMs} ms deadline before the end`})`,
      );
      return { deleted, complete, elapsedMs };
    }),
    keyTtl: handler(async (ctx) => {
      const conn = connection(ctx);
      const result = await setKeyTtl(conn, (ctx.request.body ?? {}) as Record<string, unknown>, families());
      log(
        ctx,
        result.requested === null
          ? `removed the TTL of key ${JSON.stringify(result.key)} on connection "${conn.name}"${result.changed ? '' : ' (it had none)'}`
          : `set the TTL of key ${JSON.stringify(result.key)} on connection "${conn.name}" to ${result.requested} ms`,
      );
      return { ttlMs: result.ttlMs, changed: result.changed };
    }),
    health: handler((ctx) => healthView(connection(ctx), host.health?.())),
    slowlog: handler((ctx) => {
      const can = (action: string) => ctx.state.userAbility?.can(action) === true;
      return slowlogView(connection(ctx), ctx.query, {
        showArguments: can(ACTIONS.keysRead),
        canReadSessions: can(ACTIONS.keysReadSessions),
        sessionPrefixes: families()
          .filter((f) => f.family === 'sessions')
          .map((f) => f.prefix),
      });
    }),
    memory: handler((ctx) => memoryPage(connection(ctx), ctx.query, host.cacheHost)),
    cache: handler(() => cacheView(host.cacheHost)),
    purgeCache: handler(async (ctx) => {
      const result = await purgeCache(host.cacheHost, (ctx.request.body ?? {}) as Record<string, unknown>);
      log(ctx, `purged ${result.all ? 'every cache tag' : `cache tag ${JSON.stringify(result.tag)}`} (${result.purged} entries removed)`);
      return { purged: result.purged };
    }),
    cron: handler(() => cronView(host.guard())),
    stats: handler(async () => statsView(host.guard(), INSTANCE_ID, host.registry())),
  };
}
