/**
 * Which features of the suite use a connection: each feature marks the connection it binds to
 * (once, when it resolves it), and the admin panel's connections view lists them. A connection
 * that is not one of the registry's (a raw ioredis client passed as `client`) is not tracked.
 */

/** The features that can use a connection. */
export type Feature = 'locks' | 'cron' | 'rateLimit' | 'session' | 'cache' | 'apollo';

export const FEATURES: readonly Feature[] = Object.freeze(['locks', 'cron', 'rateLimit', 'session', 'cache', 'apollo']);

/** What a connection offers to record its users (`RedisConnection` implements it). */
export interface FeatureUsage {
  markUsedBy(feature: Feature): void;
  readonly features: readonly Feature[];
}

/** Record that `feature` uses `connection`; a no-op for anything that does not track usage. */
export function markUsedBy(connection: unknown, feature: Feature): void {
  const c = connection as Partial<FeatureUsage> | null | undefined;
  if (c && typeof c.markUsedBy === 'function') c.markUsedBy(feature);
}

/** A tracker for one connection: features in the order of `FEATURES`. */
export class FeatureSet {
  readonly #used = new Set<Feature>();

  add(feature: Feature): void {
    if (FEATURES.includes(feature)) this.#used.add(feature);
  }

  list(): Feature[] {
    return FEATURES.filter((f) => this.#used.has(f));
  }
}
