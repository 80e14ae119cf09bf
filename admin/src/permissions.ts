/**
 * The plugin's RBAC actions (docs/admin-api.md, "Permissions"). `subject: null`: they are
 * plugin permissions, not content-type ones.
 */
export const PERMISSIONS = {
  /** Connections, server info, cache tags, cron tasks; the menu link needs it. */
  read: [{ action: 'plugin::redis.read', subject: null }],
  /** SCAN and key values. */
  keysRead: [{ action: 'plugin::redis.keys.read', subject: null }],
  /** Session values (credentials-equivalent), next to keysRead. */
  keysReadSessions: [{ action: 'plugin::redis.keys.read-sessions', subject: null }],
  /** Delete one key, delete by pattern. */
  keysDelete: [{ action: 'plugin::redis.keys.delete', subject: null }],
  /** Set or remove a key's TTL. */
  keysEdit: [{ action: 'plugin::redis.keys.edit', subject: null }],
  /** Purge a cache tag or the whole cache. */
  cachePurge: [{ action: 'plugin::redis.cache.purge', subject: null }],
};
