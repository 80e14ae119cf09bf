/**
 * The features' in-process counters on this instance (since it started): response cache
 * middlewares, rate limit, session stores and Apollo caches (each summed over the parts on this
 * app's connections, from the registry's counters), cron guard, locks.
 * Features without counters here are absent, not zero.
 */
import type { CronGuard, CronGuardStats } from '../core/cron-guard.js';
import type { LockStats } from '../core/locks.js';
import { zeroSessionCounters, type SessionCounters } from '../session/store.js';
import type { CounterRegistry } from '../core/counters.js';
import { featureCounters } from '../counters.js';
import type { StoreCounters } from '../graphql/keyv-store.js';
import type { CacheCounters } from '../middlewares/cache/store.js';
import { zeroRateLimitCounters, type RateLimitCounters } from '../middlewares/rate-limit/shared.js';

export interface StatsView {
  /** `hostname:pid`: counters are per instance. */
  instance: string;
  /** Every response cache middleware on this app's connections; null when there is none. */
  cache: CacheCounters | null;
  rateLimit: RateLimitCounters;
  cron: CronGuardStats | null;
  /** Every Redis session store on this app's connections. */
  sessions: SessionCounters;
  /** Every Apollo/Keyv cache on this app's connections; null when there is none. */
  apollo: StoreCounters | null;
  /** The lock service; null until something used locks. */
  locks: LockStats | null;
}

export function statsView(
  guard: CronGuard | undefined,
  instance: string,
  registry: { readonly counters: CounterRegistry; readonly lockStats: LockStats | null },
): StatsView {
  const features = featureCounters(registry);
  return {
    instance,
    cache: features.cache,
    rateLimit: features.rateLimit ?? zeroRateLimitCounters(),
    cron: guard ? { ...guard.stats } : null,
    sessions: features.sessions ?? zeroSessionCounters(),
    apollo: features.apollo,
    locks: registry.lockStats,
  };
}
