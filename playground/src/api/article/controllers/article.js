'use strict';

const { factories } = require('@strapi/strapi');

// The default controller, counting how often `find` really runs on this instance (the response
// cache e2e tests read the count through /api/cache-probe/find-calls to see coalescing work).
let findCalls = 0;

module.exports = factories.createCoreController('api::article.article', () => ({
  async find(ctx) {
    findCalls += 1;
    // the cache e2e test of stale-if-error (set through /api/cache-probe/clock)
    if (globalThis.__cacheProbeFailFind) throw new Error('cache probe: find fails');
    if (globalThis.__cacheProbeFindGate) await globalThis.__cacheProbeFindGate;
    return super.find(ctx);
  },
}));

module.exports.findCalls = () => findCalls;
