'use strict';

// Boots the app without an admin build: the `createStrapi(...).start()` that `strapi start` runs
// for a JavaScript app, minus the CLI. Strapi itself handles SIGTERM/SIGINT (destroy, then exit 0).
//
// Run it from an app folder made by `node scripts/playground.mjs app-dir <dir>` (or `npm run demo`
// at the repository root): that folder's package.json lists the plugin, which is how Strapi finds
// installed plugins. Booted from playground/ itself, the plugin is not loaded.
const fs = require('node:fs');
const path = require('node:path');

process.env.STRAPI_TELEMETRY_DISABLED = process.env.STRAPI_TELEMETRY_DISABLED || 'true';
process.env.NODE_ENV = process.env.NODE_ENV || 'production';

const appDir = path.resolve(process.env.APP_DIR || __dirname);
process.chdir(appDir);

const PLUGIN_PACKAGE = 'strapi-plugin-redis-suite';
const { dependencies = {} } = JSON.parse(fs.readFileSync(path.join(appDir, 'package.json'), 'utf8'));
if (!dependencies[PLUGIN_PACKAGE]) {
  console.warn(
    `[playground] ${PLUGIN_PACKAGE} is not in ${path.join(appDir, 'package.json')}: Strapi will not load it. ` +
      'Use `npm run demo` or `node scripts/playground.mjs app-dir <dir>` at the repository root.',
  );
}

// Test runners set this and keep a pipe on stdin: when the runner dies, stdin ends and the app
// shuts down cleanly instead of living on as an orphan.
if (process.env.PLAYGROUND_EXIT_ON_STDIN_END === '1') {
  process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
  process.stdin.on('error', () => process.kill(process.pid, 'SIGTERM'));
  process.stdin.resume();
}

const { createStrapi } = require('@strapi/strapi');

createStrapi({ appDir, distDir: appDir }).start();
