/**
 * The features' counters of a registry, typed: the sum over every rate limiter and store, session
 * store, response cache middleware and Apollo cache on the registry's connections
 * (src/core/counters.ts keeps them untyped, since core knows no feature). A feature nothing on the
 * registry uses is null.
 */
import type { CounterRegistry } from './core/counters.js';
import type { CacheCounters } from './middlewares/cache/store.js';
import { zeroCacheCounters } from './middlewares/cache/store.js';
import type { RateLimitCounters } from './middlewares/rate-limit/shared.js';
import { zeroRateLimitCounters } from './middlewares/rate-limit/shared.js';
import type { SessionCounters } from './session/store.js';
import { zeroSessionCounters } from './session/store.js';
import type { StoreCounters } from './graphql/keyv-store.js';

export interface FeatureCounters {
  rateLimit: RateLimitCounters | null;
  sessions: SessionCounters | null;
  /** Every response cache middleware whose connection is one of the registry's. */
  cache: CacheCounters | null;
  apollo: StoreCounters | null;
}

/** `registry.counters` (or a registry) summed per feature. */
export function featureCounters(source: CounterRegistry | { readonly counters: CounterRegistry }): FeatureCounters {
  const counters = 'counters' in source ? source.counters : source;
  return {
    rateLimit: counters.sum('rateLimit', zeroRateLimitCounters()),
    sessions: counters.sum('session', zeroSessionCounters()),
    cache: counters.sum('cache', zeroCacheCounters()),
    apollo: counters.sum('apollo', { hits: 0, misses: 0, readErrors: 0, writes: 0, writeErrors: 0 }),
  };
}
