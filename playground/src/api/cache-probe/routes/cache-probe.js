'use strict';

// Test-only routes for the response cache e2e tests (tests/e2e/cache.test.ts), present only when
// PLAYGROUND_CACHE_PROBE is set: writes through the document service (whose middlewares, the
// cache's purge among them, run as for any other write), one held open inside an outer transaction, an API token maker, and an
// authenticated route cached per caller by plugin::redis.cache as a route middleware.
const enabled = Boolean(process.env.PLAYGROUND_CACHE_PROBE);
const cachePrefix = process.env.PLAYGROUND_CACHE_PROBE || 'cache-probe:';

module.exports = {
  routes: enabled
    ? [
        { method: 'POST', path: '/cache-probe/articles', handler: 'cache-probe.create', config: { auth: false } },
        { method: 'PUT', path: '/cache-probe/articles/:documentId', handler: 'cache-probe.update', config: { auth: false } },
        { method: 'PUT', path: '/cache-probe/articles/:documentId/in-transaction', handler: 'cache-probe.updateInTransaction', config: { auth: false } },
        { method: 'GET', path: '/cache-probe/tx-state', handler: 'cache-probe.txState', config: { auth: false } },
        { method: 'POST', path: '/cache-probe/tx-release', handler: 'cache-probe.txRelease', config: { auth: false } },
        { method: 'GET', path: '/cache-probe/cache-stats', handler: 'cache-probe.cacheStats', config: { auth: false } },
        { method: 'POST', path: '/cache-probe/tokens', handler: 'cache-probe.token', config: { auth: false } },
        { method: 'GET', path: '/cache-probe/find-calls', handler: 'cache-probe.findCalls', config: { auth: false } },
        { method: 'POST', path: '/cache-probe/clock', handler: 'cache-probe.clock', config: { auth: false } },
        {
          method: 'GET',
          path: '/cache-probe/whoami',
          handler: 'cache-probe.whoami',
          config: {
            middlewares: [
              { name: 'plugin::redis.cache', config: { prefix: cachePrefix, byCaller: true, routes: ['/api/cache-probe/whoami'] } },
            ],
          },
        },
      ]
    : [],
};
