'use strict';

// The list scripts/demo/config/cron-tasks.js pushes each run to.
const RUNS_KEY = 'demo:cron:runs';
const instance = () => process.env.DEMO_INSTANCE || '?';

// Pretty JSON: the tour prints these answers as they are.
const pretty = (ctx, value) => {
  ctx.type = 'application/json';
  ctx.body = `${JSON.stringify(value, null, 2)}\n`;
};

module.exports = {
  visits(ctx) {
    ctx.session.visits = (ctx.session.visits || 0) + 1;
    pretty(ctx, { visits: ctx.session.visits, instance: instance() });
  },

  async cron(ctx) {
    const client = strapi.redis.connections.default.client;
    const runs = (await client.lrange(RUNS_KEY, 0, 5)).map((line) => JSON.parse(line));
    const stats = strapi.plugin('redis').service('cron').stats();
    pretty(ctx, {
      instance: instance(),
      lastRuns: runs.map((run) => `${run.tick.slice(11, 19)} UTC on ${run.instance}`),
      thisInstance: { runs: stats.runs, claimedElsewhere: stats.claimedElsewhere, failures: stats.failures },
    });
  },
};
