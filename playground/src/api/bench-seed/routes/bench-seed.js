'use strict';

// Bench-only route (bench/scenarios/cache-strapi.mjs), present only when PLAYGROUND_BENCH_SEED is
// set: POST /api/bench-seed fills an empty database with articles related to authors and tags
// (the route the bench reads populates them) and lets the public role read authors and tags.
const enabled = Boolean(process.env.PLAYGROUND_BENCH_SEED);

module.exports = {
  routes: enabled ? [{ method: 'POST', path: '/bench-seed', handler: 'bench-seed.seed', config: { auth: false } }] : [],
};
