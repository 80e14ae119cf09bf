/**
 * Expiry of a cache write, in milliseconds. Apollo speaks seconds (`{ ttl: 30 }`); KeyvAdapter
 * turns them into Keyv's milliseconds (`ttl * 1000`) before a value reaches the store, so the
 * store only ever sees milliseconds and writes them with `PX`.
 */

/** Longest a key may live when no `maxTtl` is given: 24 hours, in ms. */
export const DEFAULT_MAX_TTL_MS = 86_400_000;

/**
 * The `PX` value for a write asked to live `ttlMs`, or `null` when the entry is already expired
 * (a negative TTL) and must not be written.
 *
 * - No TTL (`undefined`, `null`, `0`, `NaN`): Apollo's "no expiry" (its in-memory cache keeps such
 *   entries until evicted). Redis has no eviction we can rely on, so they live `maxTtlMs`.
 * - A TTL longer than `maxTtlMs` (or `Infinity`) is capped at `maxTtlMs`.
 * - Fractions of a millisecond round to the nearest millisecond, at least 1.
 */
export function expiryMs(ttlMs: number | null | undefined, maxTtlMs: number): number | null {
  if (ttlMs === undefined || ttlMs === null || ttlMs === 0 || Number.isNaN(ttlMs)) return maxTtlMs;
  if (ttlMs < 0) return null;
  return Math.min(Math.max(1, Math.round(ttlMs)), maxTtlMs);
}
