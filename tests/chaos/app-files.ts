/**
 * What the chaos run writes into each playground Strapi app (tests/e2e/app.ts `startApp`): the
 * redis plugin's config, the middleware list with every request-path feature, the cron tasks, the
 * GraphQL config (Apollo cache, persisted queries, response cache), the admin login limiter on
 * `RedisRateLimitStore`, and a small `chaos` API whose routes the load generator calls.
 *
 * Defaults are kept wherever a feature has one (the run is meant to be "nobody tuned it"); what is
 * set is what the run needs to observe: a rate limit reached by bursts of one bucket, a short cache
 * `maxAge` (so a stale entry left by a failed purge is bounded and measurable), coalescing on.
 */

/** `plugin::redis.rateLimit` on /api/chaos/limited: `max` per bucket per window. */
export const RATE_LIMIT = { max: 10, intervalMs: 60_000 } as const;
/** Strapi's admin login limiter (its default): 5 per 5 min per email and IP. */
export const ADMIN_LOGIN_MAX = 5;
/** `coalesce: true` means maxWait 1000 ms (README "Response cache"). */
export const COALESCE_MAX_WAIT_MS = 1000;
/** The response cache's `maxAge` for articles. */
export const CACHE_MAX_AGE_MS = 5_000;
/** The long cron task: every LONG_EVERY_S seconds, runs LONG_RUN_MS, run lock TTL LONG_LOCK_TTL_MS. */
export const LONG_EVERY_S = 4;
export const LONG_RUN_MS = 6_000;
export const LONG_LOCK_TTL_MS = 2_000;

export const PLUGIN_CONFIG = `'use strict';
// One \`default\` connection (CHAOS_REDIS_CONNECTION: a URL, { sentinels, name } or { nodes }), every feature on it.
module.exports = {
  settings: { enableRedlock: true },
  connections: { default: { connection: JSON.parse(process.env.CHAOS_REDIS_CONNECTION) } },
};
`;

export const MIDDLEWARES = `'use strict';
module.exports = (defaults) => {
  const list = ['global::request-timer'];
  for (const entry of defaults) {
    if (entry === 'strapi::session') {
      list.push({ name: 'plugin::redis.session', config: { secure: false } });
      continue;
    }
    list.push(entry);
    if (entry === 'strapi::cors') {
      list.push({
        name: 'plugin::redis.rateLimit',
        config: {
          prefixKey: 'chaos',
          interval: ${RATE_LIMIT.intervalMs},
          max: ${RATE_LIMIT.max},
          paths: ['/api/chaos/limited'],
          // One bucket per burst of the load generator (a test-only key: never do this with a client's header).
          keyGenerator: (ctx) => 'bucket:' + String(ctx.get('x-chaos-bucket') || 'none'),
        },
      });
    }
  }
  list.push({ name: 'plugin::redis.cache', config: { maxAge: ${CACHE_MAX_AGE_MS}, coalesce: true, contentTypes: ['api::article.article'] } });
  // Last: times the router and controller (the handler), so X-Request-Ms - X-Handler-Ms is the time spent in the middlewares.
  list.push('global::handler-timer');
  return list;
};
`;

export const HANDLER_TIMER = `'use strict';
const { performance } = require('node:perf_hooks');
// The handler's time in X-Handler-Ms (GraphQL sets its own: the operation's execution), for the chaos run.
module.exports = () =>
  async function handlerTimer(ctx, next) {
    const start = performance.now();
    try {
      await next();
    } finally {
      if (!ctx.response.get('x-handler-ms')) ctx.set('X-Handler-Ms', (performance.now() - start).toFixed(1));
    }
  };
`;

export const CHAOS_ROUTES = `'use strict';
module.exports = {
  routes: [
    { method: 'POST', path: '/chaos/session/login', handler: 'chaos.sessionLogin', config: { auth: false } },
    { method: 'GET', path: '/chaos/session', handler: 'chaos.sessionRead', config: { auth: false } },
    { method: 'POST', path: '/chaos/session/incr', handler: 'chaos.sessionIncr', config: { auth: false } },
    { method: 'GET', path: '/chaos/limited', handler: 'chaos.limited', config: { auth: false } },
    { method: 'GET', path: '/chaos/stats', handler: 'chaos.stats', config: { auth: false } },
    { method: 'GET', path: '/chaos/ping', handler: 'chaos.ping', config: { auth: false } },
    { method: 'GET', path: '/chaos/stalls', handler: 'chaos.stalls', config: { auth: false } },
  ],
};
`;

export const CHAOS_CONTROLLER = `'use strict';
const { performance } = require('node:perf_hooks');
const instance = process.env.CHAOS_INSTANCE || '?';
// Event-loop stalls of this process: [end (Date.now()), ms] for every timer tick later than 1 ms,
// so the run can tell the time a request lost to a busy process from the time it spent on Redis
// (a request that waits out requestTimeout ends when its timer fires: late by what ran before it).
const TICK_MS = 20;
let stalls = [];
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - last - TICK_MS;
  if (late > 1) stalls.push([Date.now(), Math.round(late)]);
  if (stalls.length > 20000) stalls = stalls.slice(-10000);
  last = now;
}, TICK_MS).unref();
const view = (ctx) => ({ user: ctx.session.user === undefined ? null : ctx.session.user, n: ctx.session.n === undefined ? null : ctx.session.n, instance });
module.exports = {
  sessionLogin(ctx) {
    ctx.session.user = String((ctx.request.body && ctx.request.body.user) || '');
    ctx.session.n = 0;
    ctx.body = view(ctx);
  },
  sessionRead(ctx) {
    ctx.body = view(ctx);
  },
  sessionIncr(ctx) {
    if (!ctx.session.user) {
      ctx.status = 409;
      ctx.body = { ...view(ctx), error: 'no session' };
      return;
    }
    ctx.session.n = (ctx.session.n || 0) + 1;
    ctx.body = view(ctx);
  },
  limited(ctx) {
    ctx.body = { rateLimit: ctx.state.rateLimit || null, instance };
  },
  // Touches no Redis (no session cookie is sent, no limiter or cache covers it): the load's control.
  ping(ctx) {
    ctx.body = { instance };
  },
  stalls(ctx) {
    ctx.body = { instance, pid: process.pid, stalls };
    stalls = [];
  },
  stats(ctx) {
    const plugin = strapi.plugin('redis');
    ctx.body = { instance, pid: process.pid, cron: plugin.service('cron').stats(), cache: plugin.service('cache').stats() };
  },
};
`;

export const CRON_TASKS = `'use strict';
// The chaos run's cron tasks. Each run is recorded in PostgreSQL (never faulted), stamped by its clock.
const instance = process.env.CHAOS_INSTANCE || '?';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
module.exports = {
  chaosTick: {
    options: { rule: '* * * * * *' },
    async task({ strapi }, fireDate, guard) {
      const knex = strapi.db.connection;
      const inserted = await knex.raw('insert into chaos_ticks (tick, instance, fencing, at) values (?, ?, ?, clock_timestamp()) returning id', [
        guard.tick.toISOString(), instance, String(guard.fencingToken),
      ]);
      await knex.raw('update chaos_ticks set done = clock_timestamp() where id = ?', [inserted.rows[0].id]);
    },
  },
  chaosLong: {
    options: { rule: '*/${LONG_EVERY_S} * * * * *' },
    lockTTL: ${LONG_LOCK_TTL_MS},
    async task({ strapi }, fireDate, guard) {
      const knex = strapi.db.connection;
      const inserted = await knex.raw(
        'insert into chaos_long (tick, instance, fencing, started_at) values (?, ?, ?, clock_timestamp()) returning id',
        [guard.tick.toISOString(), instance, String(guard.fencingToken)],
      );
      const id = inserted.rows[0].id;
      const until = Date.now() + ${LONG_RUN_MS};
      while (Date.now() < until && !guard.signal.aborted) await sleep(100);
      await knex.raw('update chaos_long set ended_at = clock_timestamp(), aborted = ? where id = ?', [guard.signal.aborted, id]);
    },
  },
};
`;

/** Tables the cron tasks write; created by the driver before the first boot. */
export const CHAOS_TABLES_SQL = `
create table if not exists chaos_ticks (id serial primary key, tick text not null, instance text not null, fencing text, at timestamptz not null, done timestamptz);
create table if not exists chaos_long (id serial primary key, tick text not null, instance text not null, fencing text, started_at timestamptz not null, ended_at timestamptz, aborted boolean);
`;

export const GRAPHQL_CONFIG = `'use strict';
const path = require('node:path');
const { createRequire } = require('node:module');
const { performance } = require('node:perf_hooks');
const appRequire = createRequire(path.join(process.cwd(), 'package.json'));
const { createApolloCache } = appRequire('strapi-plugin-redis-suite');
const { ApolloServerPluginCacheControl } = appRequire('@apollo/server/plugin/cacheControl');
const responseCachePlugin = appRequire('@apollo/server-plugin-response-cache').default;

const anonymous = ({ request }) => !request.http || !request.http.headers.get('authorization');
// The operation's execution is a GraphQL request's handler: X-Handler-Ms.
const handlerTimer = {
  async requestDidStart() {
    let ms = 0;
    return {
      async executionDidStart() {
        const start = performance.now();
        return { executionDidEnd() { ms = performance.now() - start; } };
      },
      async willSendResponse({ response }) {
        response.http.headers.set('x-handler-ms', ms.toFixed(1));
      },
    };
  },
};

module.exports = {
  defaultLimit: 25,
  maxLimit: 100,
  depthLimit: 10,
  apolloServer: {
    // Persisted queries and the response cache's entries in Redis, shared by every instance.
    cache: createApolloCache({ connection: 'default', namespace: 'apollo' }),
    plugins: [
      ApolloServerPluginCacheControl({ defaultMaxAge: 2 }),
      responseCachePlugin({ shouldReadFromCache: anonymous, shouldWriteToCache: anonymous }),
      handlerTimer,
    ],
  },
};
`;

export const ADMIN_RATELIMIT = `'use strict';
const path = require('node:path');
const { createRequire } = require('node:module');
const { RedisRateLimitStore } = createRequire(path.join(process.cwd(), 'package.json'))('strapi-plugin-redis-suite');
module.exports = { store: new RedisRateLimitStore({ connection: 'default', keyPrefix: 'rl:admin:' }) };
`;
