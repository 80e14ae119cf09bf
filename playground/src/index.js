'use strict';

const PUBLIC_ACTIONS = ['api::article.article.find', 'api::article.article.findOne'];

module.exports = {
  // The plugin opens its connections in its own register(), which Strapi runs before this one.
  register({ strapi }) {
    const connections = (strapi.redis && strapi.redis.connections) || {};
    strapi.config.set('playground.registerView', {
      names: Object.keys(connections),
      clientStatus: Object.fromEntries(Object.entries(connections).map(([name, c]) => [name, c.client.status])),
    });
  },

  // Lets anonymous callers read articles. Safe to run on every boot.
  async bootstrap({ strapi }) {
    if (process.env.PLAYGROUND_GITHUB_PROVIDER) {
      // e2e: turn on the GitHub OAuth provider with dummy credentials, so /api/connect/github starts
      // a real grant flow (its state lives in ctx.session) up to the redirect to GitHub.
      const store = strapi.store({ type: 'plugin', name: 'users-permissions', key: 'grant' });
      const grant = (await store.get()) || {};
      grant.github = { ...(grant.github || {}), enabled: true, key: 'dummy-client-id', secret: 'dummy-secret', callback: 'http://127.0.0.1/connect/github/redirect', scope: ['user'] };
      await store.set({ value: grant });
    }
    const publicRole = await strapi.db
      .query('plugin::users-permissions.role')
      .findOne({ where: { type: 'public' } });
    if (!publicRole) {
      strapi.log.warn('[playground] no public role found; articles stay private');
      return;
    }
    const permissions = strapi.db.query('plugin::users-permissions.permission');
    for (const action of PUBLIC_ACTIONS) {
      const existing = await permissions.findOne({ where: { action, role: publicRole.id } });
      if (!existing) {
        await permissions.create({ data: { action, role: publicRole.id } });
      }
    }
    // `npm run demo`: articles, authors and tags from a JSON file (scripts/demo/seed.json).
    if (process.env.PLAYGROUND_DEMO_SEED) await require('./demo-seed')(strapi, process.env.PLAYGROUND_DEMO_SEED);
  },

  destroy() {},
};
