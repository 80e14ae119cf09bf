/**
 * The features' in-process counters on this instance (since it started): response cache (summed
 * over its middlewares), rate limit (every limiter and store in the process), cron guard, session
 * stores (every one in the process), locks.
 * Features without counters here are absent, not zero.
 */
import type { CronGuard, CronGuardStats } from '../core/cron-guard.js';
import type { LockStats } from '../core/locks.js';
import { sessionCounters, type SessionCounters } from '../session/store.js';
import { cachesOf, createCacheService } from '../middlewares/cache/invalidation.js';
import type { CacheCounters } from '../middlewares/cache/store.js';
import { rateLimitCounters, type RateLimitCounters } from '../middlewares/rate-limit/shared.js';

export interface StatsView {
  /** `hostname:pid`: counters are per instance. */
  instance: string;
  cache: CacheCounters | null;
  rateLimit: RateLimitCounters;
  cron: CronGuardStats | null;
  /** Every Redis session store in the process. */
  sessions: SessionCounters;
  /** The lock service; null until something used locks. */
  locks: LockStats | null;
}

export function statsView(cacheHost: object, guard: CronGuard | undefined, instance: string, locks: LockStats | null = null): StatsView {
  return {
    instance,
    cache: cachesOf(cacheHost).length > 0 ? createCacheService(cacheHost).stats() : null,
    rateLimit: { ...rateLimitCounters() },
    cron: guard ? { ...guard.stats } : null,
    sessions: sessionCounters(),
    locks,
  };
}
