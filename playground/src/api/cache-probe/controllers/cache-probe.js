'use strict';

const fields = (body) => ({ title: body && body.title, body: body && body.body });
let whoamiCalls = 0;

module.exports = {
  async create(ctx) {
    const doc = await strapi.documents('api::article.article').create({ data: fields(ctx.request.body) });
    ctx.body = { data: doc };
  },

  async update(ctx) {
    const doc = await strapi.documents('api::article.article').update({ documentId: ctx.params.documentId, data: fields(ctx.request.body) });
    ctx.body = { data: doc };
  },

  // A full-access API token (test only): { id, accessKey }.
  async token(ctx) {
    const token = await strapi.service('admin::api-token').create({
      name: `cache-probe-${Date.now()}-${Math.random().toString(36).slice(2)}`,
      type: 'full-access',
      lifespan: null,
    });
    ctx.body = { id: token.id, accessKey: token.accessKey };
  },

  // How many times the article `find` controller ran on this instance.
  findCalls(ctx) {
    ctx.body = { calls: require('../../article/controllers/article').findCalls() };
  },

  // Who the request was authenticated as, and how many times this handler ran on this instance.
  whoami(ctx) {
    whoamiCalls += 1;
    const credentials = ctx.state.auth && ctx.state.auth.credentials;
    ctx.body = { tokenId: credentials ? credentials.id : null, calls: whoamiCalls };
  },
};
