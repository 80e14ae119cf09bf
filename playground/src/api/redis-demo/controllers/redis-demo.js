'use strict';

const { randomUUID } = require('node:crypto');

const errorBody = (error) => ({
  ok: false,
  error: {
    name: error && error.name ? error.name : 'Error',
    message: error && error.message ? error.message : String(error),
  },
});

module.exports = {
  // SET then GET of a random key with a short expiry on one named connection.
  // Default: through the raw ioredis client, `strapi.redis.connections.<name>.client` (the v2 API).
  // `?mode=bounded`: through `connection.run()`, which fails at once while Redis is down.
  // An unknown name goes through the service, whose error lists the configured names.
  async ping(ctx) {
    const connection = typeof ctx.query.connection === 'string' ? ctx.query.connection : 'default';
    const bounded = ctx.query.mode === 'bounded';
    try {
      const service = strapi.plugin('redis').service('connections');
      const entry = strapi.redis.connections[connection] || service.get(connection);
      const key = `playground:ping:${randomUUID()}`;
      const expected = `pong-${Date.now()}`;
      const roundTrip = async (client) => {
        await client.set(key, expected, 'PX', 5000);
        return client.get(key);
      };
      const value = bounded ? await entry.run(roundTrip) : await roundTrip(entry.client);
      if (value !== expected) {
        throw new Error(`Read back ${JSON.stringify(value)} instead of ${JSON.stringify(expected)}`);
      }
      ctx.body = { connection, ok: true, value };
    } catch (error) {
      ctx.status = 500;
      ctx.body = { connection, ...errorBody(error) };
    }
  },

  // The cron guard's view: every task it wraps (config, plugins, Strapi's own) and its counters.
  cron(ctx) {
    const cron = strapi.plugin('redis').service('cron');
    ctx.body = { enabled: cron.enabled(), tasks: cron.tasks(), stats: cron.stats() };
  },

  // Reads (and with ?x= writes) the session: shows whether a session made on one instance is seen on another.
  session(ctx) {
    if (typeof ctx.query.x === 'string') ctx.session.x = ctx.query.x;
    ctx.body = { x: ctx.session.x ?? null, grant: ctx.session.grant ?? null };
  },

  // What the app's own register() saw of the plugin (it runs after every plugin's register()).
  registerView(ctx) {
    ctx.body = strapi.config.get('playground.registerView', null);
  },

  async status(ctx) {
    try {
      ctx.body = await strapi.plugin('redis').service('connections').status();
    } catch (error) {
      ctx.status = 500;
      ctx.body = errorBody(error);
    }
  },
};
