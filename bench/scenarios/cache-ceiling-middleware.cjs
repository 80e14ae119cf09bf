// The ceiling of a cache hit in Strapi (issue #20 item 3): a global middleware in the place of
// plugin::redis.cache that keeps the route's first 200 response in process memory and answers every
// later request for the same URL with those bytes. No Redis, no key building, no freshness check:
// the fastest any cache in front of Strapi's router could be. `config.etag` sends the stored ETag.
'use strict';
const { createHash } = require('node:crypto');

module.exports = (config) => {
  const stored = new Map();
  return async function memoryCeiling(ctx, next) {
    if (ctx.method !== 'GET') return next();
    const hit = stored.get(ctx.url);
    if (hit) {
      ctx.status = 200;
      ctx.type = 'application/json';
      if (hit.etag) ctx.set('ETag', hit.etag);
      ctx.body = hit.body;
      return;
    }
    await next();
    if (ctx.status !== 200 || ctx.body === undefined) return;
    const body = Buffer.isBuffer(ctx.body) ? ctx.body : Buffer.from(typeof ctx.body === 'string' ? ctx.body : JSON.stringify(ctx.body));
    stored.set(ctx.url, { body, etag: config.etag ? `"${createHash('sha1').update(body).digest('base64url')}"` : undefined });
  };
};
