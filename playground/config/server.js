'use strict';

const path = require('node:path');

// Optional cron tasks for tests (guarded-cron e2e): CRON_TASKS_CONFIG is a path to a
// module exporting Strapi's `cron.tasks` object. Without it, cron stays off.
const loadCronTasks = () => {
  const file = process.env.CRON_TASKS_CONFIG;
  if (!file) return undefined;
  const mod = require(path.resolve(file));
  return mod && mod.__esModule ? mod.default : mod;
};

module.exports = ({ env }) => {
  const cronTasks = loadCronTasks();
  return {
    host: env('HOST', '127.0.0.1'),
    port: env.int('PORT', 1337),
    app: {
      keys: env.array('APP_KEYS', ['playgroundKeyA', 'playgroundKeyB']),
    },
    proxy: env.bool('SERVER_PROXY', false),
    cron: {
      enabled: Boolean(cronTasks),
      tasks: cronTasks || {},
    },
    logger: {
      // No "new version" check: no network call at boot.
      updates: { enabled: false },
      startup: { enabled: env.bool('STRAPI_STARTUP_BANNER', false) },
    },
  };
};
