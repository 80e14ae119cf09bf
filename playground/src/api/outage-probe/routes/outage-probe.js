'use strict';

// Test-only routes for the outage-bounds e2e test (tests/e2e/outage-bounds.test.ts), present only
// when PLAYGROUND_OUTAGE_PROBE=1. Each handler reports its own duration in `X-Handler-Ms`, so the
// test can tell the time a request spent in the suite's middlewares from the time its handler took.
const enabled = process.env.PLAYGROUND_OUTAGE_PROBE === '1';

module.exports = {
  routes: enabled
    ? [
        { method: 'GET', path: '/outage-probe/session', handler: 'outage-probe.session', config: { auth: false } },
        { method: 'GET', path: '/outage-probe/cached', handler: 'outage-probe.cached', config: { auth: false } },
      ]
    : [],
};
