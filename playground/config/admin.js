'use strict';

const path = require('node:path');

// ADMIN_RATELIMIT_CONFIG: path to a CommonJS module exporting the admin `rateLimit` object
// (e.g. `{ store: new RedisRateLimitStore({ connection: 'default' }) }`). Unset: Strapi's default.
const loadRateLimit = () => {
  const file = process.env.ADMIN_RATELIMIT_CONFIG;
  if (!file) return {};
  const mod = require(path.resolve(file));
  return { rateLimit: mod && mod.__esModule ? mod.default : mod };
};

module.exports = ({ env }) => ({
  // Headless by default: no admin build is needed or served (the admin API routes still exist).
  // PLAYGROUND_SERVE_ADMIN=1 serves the admin panel from <app dir>/build, which
  // `node scripts/playground.mjs admin-build` makes (the browser test, `npm run test:admin`).
  serveAdminPanel: ['1', 'true'].includes(env('PLAYGROUND_SERVE_ADMIN', '')),
  autoOpen: false,
  auth: {
    secret: env('ADMIN_JWT_SECRET', 'playground-admin-jwt-secret'),
  },
  apiToken: {
    salt: env('API_TOKEN_SALT', 'playground-api-token-salt'),
  },
  transfer: {
    token: {
      salt: env('TRANSFER_TOKEN_SALT', 'playground-transfer-token-salt'),
    },
  },
  secrets: {
    encryptionKey: env('ENCRYPTION_KEY', 'playground-encryption-key-32chars!'),
  },
  flags: {
    nps: false,
    promoteEE: false,
  },
  ...loadRateLimit(),
});
