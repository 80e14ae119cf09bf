/**
 * The plugin's RBAC actions (section `plugins`, plugin `redis`), registered with Strapi's admin
 * permission service in the plugin's `bootstrap()`. Routes check them with `admin::hasPermissions`.
 */
import { PLUGIN_ID } from '../core/config.js';

export const ACTIONS = Object.freeze({
  read: `plugin::${PLUGIN_ID}.read`,
  keysRead: `plugin::${PLUGIN_ID}.keys.read`,
  keysDelete: `plugin::${PLUGIN_ID}.keys.delete`,
  /** Set or remove one key's TTL. */
  keysEdit: `plugin::${PLUGIN_ID}.keys.edit`,
  /** Session values (`sess:` keys and every session store's prefix) are credentials-equivalent: shown only with it, next to keys.read. */
  keysReadSessions: `plugin::${PLUGIN_ID}.keys.read-sessions`,
  cachePurge: `plugin::${PLUGIN_ID}.cache.purge`,
} as const);

export type ActionUid = (typeof ACTIONS)[keyof typeof ACTIONS];

/** What `actionProvider.registerMany` takes (`uid` is turned into `plugin::redis.<uid>`). */
export const ACTION_DEFINITIONS = Object.freeze([
  { section: 'plugins', pluginName: PLUGIN_ID, uid: 'read', displayName: 'Read status' },
  { section: 'plugins', pluginName: PLUGIN_ID, uid: 'keys.read', displayName: 'Browse keys', subCategory: 'keys' },
  { section: 'plugins', pluginName: PLUGIN_ID, uid: 'keys.delete', displayName: 'Delete keys', subCategory: 'keys' },
  { section: 'plugins', pluginName: PLUGIN_ID, uid: 'keys.edit', displayName: 'Edit keys', subCategory: 'keys' },
  { section: 'plugins', pluginName: PLUGIN_ID, uid: 'keys.read-sessions', displayName: 'Read session values', subCategory: 'keys' },
  { section: 'plugins', pluginName: PLUGIN_ID, uid: 'cache.purge', displayName: 'Purge cache', subCategory: 'cache' },
]);

interface PermissionHost {
  service?(uid: string): unknown;
}

/**
 * Register the actions. A Strapi without the admin (a test double, a headless build that dropped
 * it) has no permission service: nothing to register, and the routes cannot be reached either.
 */
export async function registerPermissions(strapi: PermissionHost): Promise<boolean> {
  let permission: { actionProvider?: { registerMany(actions: unknown[]): Promise<unknown> } } | undefined;
  try {
    permission = strapi.service?.('admin::permission') as typeof permission;
  } catch {
    permission = undefined;
  }
  if (!permission?.actionProvider) return false;
  await permission.actionProvider.registerMany(ACTION_DEFINITIONS.map((a) => ({ ...a })));
  return true;
}
