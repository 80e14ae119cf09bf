'use strict';

const PUBLIC_ACTIONS = ['api::article.article.find', 'api::article.article.findOne'];

// PLAYGROUND_SOCKET_IO=<connection>:<path>[,...] attaches one Socket.IO server per entry to Strapi's
// HTTP server, each with the plugin's Redis adapter on that connection (e.g.
// "default:/socket.io,cluster:/socket.io-cluster"). A client's `shout` is broadcast to every client
// of every instance as `shouted`. PLAYGROUND_SOCKET_IO_KEY: the adapter's channel prefix.
let ioServers = [];
const attachSocketIo = (strapi) => {
  const spec = process.env.PLAYGROUND_SOCKET_IO;
  if (!spec) return [];
  const { Server } = require('socket.io');
  const connections = strapi.plugin('redis').service('connections');
  return spec.split(',').map((entry) => {
    const [connection, ioPath = '/socket.io'] = entry.split(':');
    const adapter = connections.socketIoAdapter(connection, { key: process.env.PLAYGROUND_SOCKET_IO_KEY || 'socket.io' });
    const io = new Server(strapi.server.httpServer, { path: ioPath, adapter, serveClient: false });
    io.on('connection', (socket) => {
      socket.on('shout', (msg, ack) => {
        io.emit('shouted', { msg, via: process.env.INSTANCE_ID || String(process.pid), connection, mode: adapter.mode });
        if (typeof ack === 'function') ack();
      });
    });
    strapi.log.info(`[playground] Socket.IO on ${ioPath}: ${adapter.mode} Redis adapter on connection "${connection}"`);
    return io;
  });
};

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
    ioServers = attachSocketIo(strapi);
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

  async destroy() {
    await Promise.all(ioServers.map((io) => io.close()));
  },
};
