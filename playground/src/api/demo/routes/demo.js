'use strict';

// Demo-only routes (`npm run demo`, scripts/demo/tour.mjs), present only when PLAYGROUND_DEMO=1:
//   GET /api/demo/visits   counts visits in ctx.session (plugin::redis.session in the demo)
//   GET /api/demo/cron     the demo cron task's last runs (any instance) and this instance's guard counters
const enabled = process.env.PLAYGROUND_DEMO === '1';

module.exports = {
  routes: enabled
    ? [
        { method: 'GET', path: '/demo/visits', handler: 'demo.visits', config: { auth: false } },
        { method: 'GET', path: '/demo/cron', handler: 'demo.cron', config: { auth: false } },
      ]
    : [],
};
