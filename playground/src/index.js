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
  },

  destroy() {},
};
