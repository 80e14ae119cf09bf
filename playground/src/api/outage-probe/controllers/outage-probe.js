'use strict';

const { performance } = require('node:perf_hooks');

// A little real work (one database read), timed by the handler itself.
async function work() {
  return strapi.documents('api::article.article').findMany({ limit: 1 });
}

const took = (ctx, start) => ctx.set('X-Handler-Ms', (performance.now() - start).toFixed(1));

module.exports = {
  // Changes the session on every request: one GET (load) and one SET (save) in the session store.
  async session(ctx) {
    const start = performance.now();
    const rows = await work();
    ctx.session.n = (ctx.session.n || 0) + 1;
    ctx.body = { n: ctx.session.n, rows: rows.length };
    took(ctx, start);
  },

  // A distinct query string per request: a response cache miss, then a write of the entry.
  async cached(ctx) {
    const start = performance.now();
    const rows = await work();
    ctx.body = { n: ctx.query.n === undefined ? null : String(ctx.query.n), rows: rows.length };
    took(ctx, start);
  },
};
