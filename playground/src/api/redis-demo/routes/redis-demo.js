'use strict';

module.exports = {
  routes: [
    {
      method: 'GET',
      path: '/redis-demo/ping',
      handler: 'redis-demo.ping',
      config: { auth: false },
    },
    {
      method: 'GET',
      path: '/redis-demo/status',
      handler: 'redis-demo.status',
      config: { auth: false },
    },
    {
      method: 'GET',
      path: '/redis-demo/register-view',
      handler: 'redis-demo.registerView',
      config: { auth: false },
    },
    {
      method: 'GET',
      path: '/redis-demo/cron',
      handler: 'redis-demo.cron',
      config: { auth: false },
    },
    {
      method: 'GET',
      path: '/redis-demo/session',
      handler: 'redis-demo.session',
      config: { auth: false },
    },
  ],
};
