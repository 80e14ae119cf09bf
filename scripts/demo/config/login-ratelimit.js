'use strict';

// Strapi's own login limiters on RedisRateLimitStore, so every instance shares one count (README
// "Strapi's own login limiters on Redis"). Strapi's limits stay its defaults: admin login 5 per
// 5 min per email and IP, /api/auth/local 10 per minute. Used by admin-ratelimit.js
// (ADMIN_RATELIMIT_CONFIG) and auth-ratelimit.js (UP_RATELIMIT_CONFIG), each with its own prefix.
const path = require('node:path');
const { createRequire } = require('node:module');

// Resolved from the app folder (the process' cwd), where Strapi and the plugin are installed.
const { RedisRateLimitStore } = createRequire(path.join(process.cwd(), 'package.json'))('strapi-plugin-redis-suite');

module.exports = (keyPrefix) => ({ store: new RedisRateLimitStore({ connection: 'default', keyPrefix }) });
