'use strict';

// REDIS_PLUGIN_CONFIG of the demo: config/plugins -> redis.config. One `default` connection (a
// URL, or the Cluster's nodes with --cluster: DEMO_REDIS_CONNECTION, set by scripts/demo.mjs) that
// every feature uses, and the cron guard on (each tick of every cron task runs on one instance).
const connection = JSON.parse(process.env.DEMO_REDIS_CONNECTION || '"redis://127.0.0.1:6379"');

module.exports = {
  settings: { enableRedlock: true },
  connections: {
    default: { connection, required: true },
  },
};
