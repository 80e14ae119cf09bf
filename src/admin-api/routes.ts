/**
 * The admin routes of the plugin (type `admin`): Strapi mounts them under `/redis` (the plugin
 * id), authenticates the admin JWT, and each route's `admin::hasPermissions` policy checks its
 * action. Contract: docs/admin-api.md.
 */
import { ACTIONS, type ActionUid } from './permissions.js';

const can = (action: ActionUid) => ({ policies: [{ name: 'admin::hasPermissions', config: { actions: [action] } }] });

/**
 * The admin router, fresh for each Strapi instance (Strapi calls a function-form router with
 * `{ strapi }` and then writes `info` and `config.auth` into the route objects it gets).
 */
export const adminRoutes = () => ({
  type: 'admin' as const,
  routes: [
    { method: 'GET', path: '/connections', handler: 'admin.connections', config: can(ACTIONS.read) },
    { method: 'GET', path: '/connections/:name/server', handler: 'admin.server', config: can(ACTIONS.read) },
    { method: 'GET', path: '/connections/:name/keys', handler: 'admin.keys', config: can(ACTIONS.keysRead) },
    { method: 'GET', path: '/connections/:name/key', handler: 'admin.key', config: can(ACTIONS.keysRead) },
    { method: 'DELETE', path: '/connections/:name/key', handler: 'admin.deleteKey', config: can(ACTIONS.keysDelete) },
    { method: 'POST', path: '/connections/:name/keys/delete', handler: 'admin.deleteKeys', config: can(ACTIONS.keysDelete) },
    { method: 'PUT', path: '/connections/:name/key/ttl', handler: 'admin.keyTtl', config: can(ACTIONS.keysEdit) },
    { method: 'GET', path: '/connections/:name/health', handler: 'admin.health', config: can(ACTIONS.read) },
    { method: 'GET', path: '/connections/:name/slowlog', handler: 'admin.slowlog', config: can(ACTIONS.read) },
    { method: 'GET', path: '/connections/:name/memory', handler: 'admin.memory', config: can(ACTIONS.keysRead) },
    { method: 'GET', path: '/cache', handler: 'admin.cache', config: can(ACTIONS.read) },
    { method: 'POST', path: '/cache/purge', handler: 'admin.purgeCache', config: can(ACTIONS.cachePurge) },
    { method: 'GET', path: '/cron', handler: 'admin.cron', config: can(ACTIONS.read) },
    { method: 'GET', path: '/stats', handler: 'admin.stats', config: can(ACTIONS.read) },
  ],
});
