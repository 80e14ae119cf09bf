'use strict';

// CRON_TASKS_CONFIG of the demo: one task every 10 s. With settings.enableRedlock the guard runs
// each tick on exactly one instance (whichever claims it first); the others count it as "claimed
// elsewhere". Each run is pushed to the list demo:cron:runs (newest first, last 50), which
// GET /api/demo/cron shows with this instance's guard counters.
// The demo route (playground/src/api/demo) reads the same key.
const RUNS_KEY = 'demo:cron:runs';

module.exports = {
  demoTick: {
    options: { rule: '*/10 * * * * *' },
    async task({ strapi }, fireDate, guard) {
      const client = strapi.redis.connections.default.client;
      const run = { tick: guard.tick.toISOString(), instance: process.env.DEMO_INSTANCE || '?', fencingToken: guard.fencingToken };
      await client.lpush(RUNS_KEY, JSON.stringify(run));
      await client.ltrim(RUNS_KEY, 0, 49);
      await client.pexpire(RUNS_KEY, 3_600_000);
      strapi.log.info(`[demo] cron task "demoTick" ran on instance ${run.instance} for the tick at ${run.tick}`);
    },
  },
};
