'use strict';

const fields = (body) => ({ title: body && body.title, body: body && body.body });
let whoamiCalls = 0;
// The update held open inside an outer transaction (updateInTransaction): 'idle', 'updated' (the
// document-service call returned, the transaction is still open) or 'done'; and its release.
let txState = 'idle';
let releaseTx = () => {};

module.exports = {
  async create(ctx) {
    const doc = await strapi.documents('api::article.article').create({ data: fields(ctx.request.body) });
    ctx.body = { data: doc };
  },

  async update(ctx) {
    const doc = await strapi.documents('api::article.article').update({ documentId: ctx.params.documentId, data: fields(ctx.request.body) });
    ctx.body = { data: doc };
  },

  // An update inside an outer strapi.db.transaction that stays open after the document-service
  // call returned, until POST /cache-probe/tx-release (or 10 s); `?fail=1` rolls it back instead,
  // `?times=<n>` updates n times in it (as a bulk action writes many documents in one transaction).
  async updateInTransaction(ctx) {
    const fail = ctx.query.fail === '1';
    const times = Math.max(1, Number(ctx.query.times) || 1);
    txState = 'started';
    const released = new Promise((resolve) => {
      releaseTx = resolve;
      setTimeout(resolve, 10_000).unref();
    });
    try {
      const doc = await strapi.db.transaction(async () => {
        let updated;
        for (let i = 0; i < times; i++) {
          updated = await strapi.documents('api::article.article').update({ documentId: ctx.params.documentId, data: fields(ctx.request.body) });
        }
        txState = 'updated';
        await released;
        if (fail) throw new Error('rolled back on purpose');
        return updated;
      });
      ctx.body = { data: doc };
    } catch (err) {
      ctx.status = 409;
      ctx.body = { error: err.message };
    } finally {
      txState = 'done';
    }
  },

  txState(ctx) {
    ctx.body = { state: txState };
  },

  txRelease(ctx) {
    releaseTx();
    ctx.body = { released: true };
  },

  // The response cache's counters on this instance (purges, stores, ...).
  cacheStats(ctx) {
    ctx.body = strapi.plugin('redis').service('cache').stats();
  },

  // An API token (test only): { id, accessKey }. Full access, or `?permissions=a,b` for a custom token with those actions.
  async token(ctx) {
    const permissions = typeof ctx.query.permissions === 'string' ? ctx.query.permissions.split(',').filter(Boolean) : null;
    const token = await strapi.service('admin::api-token').create({
      name: `cache-probe-${Date.now()}-${Math.random().toString(36).slice(2)}`,
      type: permissions ? 'custom' : 'full-access',
      lifespan: null,
      ...(permissions ? { permissions } : {}),
    });
    ctx.body = { id: token.id, accessKey: token.accessKey };
  },

  // How many times the article `find` controller ran on this instance.
  findCalls(ctx) {
    ctx.body = { calls: require('../../article/controllers/article').findCalls() };
  },

  // Moves the clock a cache config reads as `now: () => Date.now() + (globalThis.__cacheProbeClockOffset || 0)`
  // (the stale-while-revalidate and stale-if-error tests), and makes the article `find` controller
  // throw while `failFind` is true, or wait while `holdFind` is: body { offset, failFind, holdFind }, offset in ms.
  clock(ctx) {
    const body = ctx.request.body || {};
    globalThis.__cacheProbeClockOffset = Number(body.offset) || 0;
    globalThis.__cacheProbeFailFind = body.failFind === true;
    // holdFind: true makes `find` wait until a call with holdFind: false
    if (body.holdFind === true && !globalThis.__cacheProbeFindGate) {
      let release;
      globalThis.__cacheProbeFindGate = new Promise((resolve) => (release = resolve));
      globalThis.__cacheProbeFindRelease = release;
    } else if (body.holdFind !== true && globalThis.__cacheProbeFindGate) {
      globalThis.__cacheProbeFindRelease();
      globalThis.__cacheProbeFindGate = undefined;
    }
    ctx.body = { offset: globalThis.__cacheProbeClockOffset, failFind: globalThis.__cacheProbeFailFind };
  },

  // Who the request was authenticated as, and how many times this handler ran on this instance.
  whoami(ctx) {
    whoamiCalls += 1;
    const credentials = ctx.state.auth && ctx.state.auth.credentials;
    ctx.body = { tokenId: credentials ? credentials.id : null, calls: whoamiCalls };
  },
};
