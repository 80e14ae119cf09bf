/**
 * The rate limiter's Lua scripts (`lua/*.lua`, loaded through core `defineScript`). Each touches one
 * key, so each is Cluster-safe without a hash tag.
 */
import type { RedisClient } from '../../core/client.js';
import { defineScript } from '../../core/script.js';
import HIT_SOURCE from './lua/rate-limit-hit.lua';
import UNHIT_SOURCE from './lua/rate-limit-unhit.lua';

/** Count a hit in a fixed window: `[count after the increment, ms until the window resets]`. */
export const hitScript = defineScript<[weight: number, intervalMs: number], [number, number]>('rate-limit-hit', HIT_SOURCE, 1);
/** Take back a hit in the window it was counted in: the count afterwards, or -1 when nothing changed. */
export const unhitScript = defineScript<[weight: number, maxTtlMs: number], number>('rate-limit-unhit', UNHIT_SOURCE, 1);

/** The scripts' sources (tests run them with EVAL). */
export const HIT_LUA: string = hitScript.source;
export const UNHIT_LUA: string = unhitScript.source;

/** Define the scripts on a client now (idempotent), so the first request does not. */
export function loadRateLimitScripts(client: RedisClient): void {
  hitScript.load(client);
  unhitScript.load(client);
}
