/**
 * The rate limiter's Lua scripts (`lua/*.lua`, loaded through core `defineScript`). The hit and
 * unhit scripts touch one key each, so they are Cluster-safe without a hash tag; the many-key hit
 * script is for one server only (standalone, Sentinel), where keys of any slot may go together.
 */
import type { RedisClient } from '../../core/client.js';
import { defineScript } from '../../core/script.js';
import HIT_SOURCE from './lua/rate-limit-hit.lua';
import HITS_SOURCE from './lua/rate-limit-hits.lua';
import UNHIT_SOURCE from './lua/rate-limit-unhit.lua';

/** Count a hit in a fixed window: `[count after the increment, ms until the window resets]`. */
export const hitScript = defineScript<[weight: number, intervalMs: number], [number, number]>('rate-limit-hit', HIT_SOURCE, 1);
/**
 * Count the hits of one turn on one server: ARGV is each key's weight and window in turn; the reply
 * is each key's `[count, ttl]` in turn, with an error's text in place of the count of a key that
 * failed. Never on a Cluster.
 */
export const hitsScript = defineScript<Array<number>, Array<number | string>>('rate-limit-hits', HITS_SOURCE, -1);
/** Take back a hit in the window it was counted in: the count afterwards, or -1 when nothing changed. */
export const unhitScript = defineScript<[weight: number, maxTtlMs: number], number>('rate-limit-unhit', UNHIT_SOURCE, 1);

/** The scripts' sources (tests run them with EVAL). */
export const HIT_LUA: string = hitScript.source;
export const UNHIT_LUA: string = unhitScript.source;

/** Define the scripts on a client now (idempotent), so the first request does not. */
export function loadRateLimitScripts(client: RedisClient): void {
  hitScript.load(client);
  if (!client.isCluster) hitsScript.load(client);
  unhitScript.load(client);
}
