'use strict';

const path = require('node:path');

// DATABASE_URL (postgres://...): PostgreSQL, e.g. a throw-away cluster of the test harness that
// several app instances share. Otherwise SQLite in this app's own folder.
module.exports = ({ env }) => {
  const url = env('DATABASE_URL');
  if (url) {
    return {
      connection: {
        client: 'postgres',
        connection: { connectionString: url },
        pool: { min: 0, max: env.int('DATABASE_POOL_MAX', 5) },
        acquireConnectionTimeout: env.int('DATABASE_ACQUIRE_TIMEOUT', 60000),
      },
    };
  }
  return {
    connection: {
      client: 'sqlite',
      connection: {
        // Relative to this app's own folder, so every app copy has its own database.
        filename: path.resolve(__dirname, '..', env('DATABASE_FILENAME', path.join('.tmp', 'data.db'))),
      },
      useNullAsDefault: true,
    },
  };
};
