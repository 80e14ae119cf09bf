'use strict';

// The peer under benchmark: @strapi-community/plugin-rest-cache 5.0.x with its Redis provider,
// which takes its client from @strapi-community/plugin-redis v2 (plugin id `redis`, so it cannot
// run next to strapi-plugin-redis-suite in one app). Every server in the bench uses the same
// redis-server (REDIS_URL). PEER_ETAG=true turns the plugin's ETag support on. A request with
// `x-bench-uncached` is a hitpass (not looked up, not stored): the peer app measured uncached.
const redisUrl = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');

module.exports = ({ env }) => ({
  redis: {
    config: {
      settings: { debug: false, enableRedlock: false },
      connections: {
        default: { connection: { host: redisUrl.hostname, port: Number(redisUrl.port || 6379), db: 0 } },
      },
    },
  },
  'rest-cache': {
    config: {
      provider: {
        name: 'redis',
        options: { connection: 'default' },
      },
      strategy: {
        enableEtag: env.bool('PEER_ETAG', false),
        enableXCacheHeaders: true,
        keysPrefix: env('PEER_PREFIX', 'bench-peer'),
        maxAge: 600_000,
        hitpass: (ctx) => Boolean(ctx.request.headers.authorization || ctx.request.headers.cookie || ctx.request.headers['x-bench-uncached']),
        contentTypes: ['api::article.article'],
      },
    },
  },
  graphql: { enabled: false },
  'users-permissions': {
    config: {
      jwtSecret: env('JWT_SECRET', 'playground-jwt-secret'),
    },
  },
});
