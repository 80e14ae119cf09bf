/** The server side of the admin panel: routes, controller, RBAC actions and the views behind them. */
export { adminRoutes } from './routes.js';
export { createAdminController } from './controller.js';
export type { AdminApiHost, AdminContext } from './controller.js';
export { ACTIONS, ACTION_DEFINITIONS, registerPermissions } from './permissions.js';
export {
  scanKeys,
  keyValue,
  deleteKey,
  deleteByPattern,
  keyNodes,
  STRING_MAX_BYTES,
  ITEM_MAX_CHARS,
  MAX_COUNT,
  MAX_LIMIT,
  MAX_PATTERN_LENGTH,
  DELETE_PATTERN_DEADLINE_MS,
} from './keys.js';
export type { KeyRow, KeyPage, KeyValue, KeyValueOptions, ScanQuery, DeleteByPatternOptions, DeleteByPatternResult } from './keys.js';
export { protectedFamilies, couldMatchPrefix, familiesReachedBy, escapeGlob } from './protected.js';
export type { ProtectedFamily, ProtectedFamilyName, HistoryHolder } from './protected.js';
export { connectionsView, connectionView, serverView } from './server.js';
export type { ConnectionView, ServerView, ServerNodeView } from './server.js';
export { cacheView, purgeCache } from './cache.js';
export type { CacheView, CacheTagView } from './cache.js';
export { cronView } from './cron.js';
export { statsView } from './stats.js';
export type { StatsView } from './stats.js';
export type { CronView, CronTaskView } from './cron.js';
export { HealthSampler, healthView, healthSeries, nodeSample, startHealthSampler, HEALTH_KEY_PREFIX, HEALTH_WINDOW_MS } from './health.js';
export type { HealthView, HealthNodeSeries, HealthPoint, NodeSample, HealthSamplerStatus, HealthSamplerOptions } from './health.js';
export { slowlogView, shownCommand, ARG_MAX_CHARS, MAX_ARGS_SHOWN, MAX_SLOWLOG_COUNT } from './slowlog.js';
export type { SlowlogView, SlowlogNodeView, SlowlogEntryView, LatencyEventView, SlowlogOptions } from './slowlog.js';
export { memoryPage, knownPrefixes, groupOf, MEMORY_MAX_BUDGET_MS, MEMORY_MAX_KEYS } from './memory.js';
export type { MemoryPage, MemoryKeyView, MemoryGroupView, MemoryQuery, KnownPrefix } from './memory.js';
export { setKeyTtl, MAX_TTL_MS } from './ttl.js';
export type { TtlEditResult } from './ttl.js';
export { AdminApiError } from './errors.js';
export type { AdminErrorDetails } from './errors.js';
