'use strict';

module.exports = ({ env }) => ({
  // Headless: no admin build is needed or served. The admin API routes still exist.
  serveAdminPanel: false,
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
});
