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

// GRAPHQL_PLUGIN_CONFIG: path to a CommonJS module exporting the graphql plugin's `config`
// (e.g. `apolloServer: { cache: createApolloCache({ connection: 'default' }) }`). Without it
// the GraphQL plugin is disabled, so apps that do not test it boot as they did before it was
// installed.
const loadGraphqlPlugin = () => {
  const file = process.env.GRAPHQL_PLUGIN_CONFIG;
  if (!file) return { enabled: false };
  const mod = require(path.resolve(file));
  return { enabled: true, config: mod && mod.__esModule ? mod.default : mod };
};

// UP_RATELIMIT_CONFIG: path to a CommonJS module exporting users-permissions' `ratelimit` object
// (e.g. `{ store: new RedisRateLimitStore({ connection: 'default' }) }`). Unset: Strapi's default.
const loadUsersPermissionsRateLimit = () => {
  const file = process.env.UP_RATELIMIT_CONFIG;
  if (!file) return {};
  const mod = require(path.resolve(file));
  return { ratelimit: mod && mod.__esModule ? mod.default : mod };
};

// EMAIL_RATELIMIT_CONFIG: path to a CommonJS module exporting the email plugin's `ratelimit` object
// (its limiter guards the admin's /admin/forgot-password). Unset: Strapi's default.
const loadEmailPlugin = () => {
  const file = process.env.EMAIL_RATELIMIT_CONFIG;
  if (!file) return {};
  const mod = require(path.resolve(file));
  return { email: { config: { ratelimit: mod && mod.__esModule ? mod.default : mod } } };
};

module.exports = ({ env }) => ({
  // PLAYGROUND_REDIS_OFF: the app without the plugin (the boot benchmark's baseline).
  redis: process.env.PLAYGROUND_REDIS_OFF ? { enabled: false } : { config: loadRedisConfig() },
  graphql: loadGraphqlPlugin(),
  ...loadEmailPlugin(),
  'users-permissions': {
    config: {
      jwtSecret: env('JWT_SECRET', 'playground-jwt-secret'),
      ...loadUsersPermissionsRateLimit(),
    },
  },
});
