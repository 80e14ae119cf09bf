'use strict';

const path = require('node:path');

// REDIS_PLUGIN_CONFIG: path to a JS or JSON module exporting the redis plugin's `config`
// object (tests use it to pass functions, class instances or invalid values). Otherwise one
// `default` connection to REDIS_URL.
const loadRedisConfig = () => {
  const file = process.env.REDIS_PLUGIN_CONFIG;
  if (file) {
    const mod = require(path.resolve(file));
    return mod && mod.__esModule ? mod.default : mod;
  }
  return {
    connections: {
      default: { connection: process.env.REDIS_URL || 'redis://127.0.0.1:6379' },
    },
  };
};

module.exports = ({ env }) => ({
  redis: {
    config: loadRedisConfig(),
  },
  'users-permissions': {
    config: {
      jwtSecret: env('JWT_SECRET', 'playground-jwt-secret'),
    },
  },
});
