'use strict';

const { performance } = require('node:perf_hooks');

// `global::request-timer` (tests put it first in the middleware list): the time the server spent
// on a request, from entering the first middleware to leaving it, in `X-Request-Ms`.
module.exports = () =>
  async function requestTimer(ctx, next) {
    const start = performance.now();
    try {
      await next();
    } finally {
      ctx.set('X-Request-Ms', (performance.now() - start).toFixed(1));
    }
  };
