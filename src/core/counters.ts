/**
 * The one counters registry of the suite. Each part (a rate limiter, a session store, a cache
 * middleware, an Apollo cache) keeps cheap in-process counters of its own and, when its connection
 * comes from a registry (a Strapi app's, or `createRedisRegistry()`'s), registers them there under
 * its feature's name. The registry sums the parts of each feature on read: the admin panel's
 * stats view and `connections.counters()` read that sum. A part on a raw ioredis client belongs to
 * no registry: its counters are its own (`limiter.counters`, `store.counters`).
 */

/** Counts by name: an object whose values are numbers (any counters interface fits). */
export type Counts = object;

/** The feature names counters are registered under. */
export type CounterFeature = 'rateLimit' | 'session' | 'cache' | 'apollo';

export class CounterRegistry {
  readonly #parts = new Map<CounterFeature, Set<() => Counts>>();

  /** Register a part's counters (read on every snapshot). Returns the unregister function. */
  register(feature: CounterFeature, read: () => Counts): () => void {
    let parts = this.#parts.get(feature);
    if (!parts) this.#parts.set(feature, (parts = new Set()));
    parts.add(read);
    return () => parts.delete(read);
  }

  /** The sum of `feature`'s parts, starting from `zero` (so every counter is present); null when none registered. */
  sum<T extends object>(feature: CounterFeature, zero: T): T | null {
    const parts = this.#parts.get(feature);
    if (!parts || parts.size === 0) return null;
    const total: Record<string, number> = { ...(zero as Record<string, number>) };
    for (const read of parts) for (const [name, n] of Object.entries(read() as Record<string, number>)) total[name] = (total[name] ?? 0) + n;
    return total as T;
  }
}

/** What a connection may carry: the counters registry of the registry it belongs to. */
export interface CountedConnection {
  readonly counters?: CounterRegistry;
}
