'use strict';

// MIDDLEWARES_CONFIG of the demo: Strapi's default list (playground/config/middlewares.js) with
// - plugin::redis.rateLimit on /api after strapi::cors: 20 requests per 10 s per client IP, counted
//   in Redis (so shared by every instance), RateLimit-* headers, 429 in Strapi's error format;
// - plugin::redis.session instead of strapi::session: sessions in Redis, seen by every instance
//   (secure: false, since the demo serves plain HTTP);
// - plugin::redis.cache last: the REST find/findOne of articles, authors and tags, purged by every
//   write through the document service (REST, GraphQL, the admin's content manager).
module.exports = (defaults) => {
  const list = [];
  for (const entry of defaults) {
    if (entry === 'strapi::session') {
      list.push({ name: 'plugin::redis.session', config: { connection: 'default', secure: false } });
      continue;
    }
    list.push(entry);
    if (entry === 'strapi::cors') {
      list.push({
        name: 'plugin::redis.rateLimit',
        config: { connection: 'default', prefixKey: 'api', interval: { sec: 10 }, max: 20, paths: ['/api'] },
      });
    }
  }
  list.push({
    name: 'plugin::redis.cache',
    config: {
      connection: 'default',
      maxAge: 60_000,
      // A shared 2-core dev machine can be slow to read a reply: 500 ms before a read counts as a
      // miss (the default, 50 ms, is for production).
      readTimeout: 500,
      contentTypes: ['api::article.article', 'api::author.author', 'api::tag.tag'],
    },
  });
  return list;
};
