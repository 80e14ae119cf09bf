/**
 * The rate limiter's Lua scripts. Each touches one key, so each is Cluster-safe without a hash tag.
 * They are registered once per client with ioredis `defineCommand` under versioned names (a changed
 * script gets a new name, so two versions of the suite sharing a client never mix them up);
 * ioredis sends EVALSHA and falls back to EVAL when the server does not have the script yet.
 */
import type { RedisClient } from '../../core/client.js';

/**
 * Count a hit in a fixed window.
 *
 * KEYS[1]  the counter key
 * ARGV[1]  weight: integer >= 0 added to the counter
 * ARGV[2]  window length in ms (integer >= 1)
 * Returns  { count after the increment, ms until the window resets (always > 0) }
 *
 * The expiry is set when the key has none (PTTL -1): a new key, and also a key left without a TTL
 * by anything else, so no counter can live forever.
 */
export const HIT_LUA = `local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return { count, ttl }`;

/**
 * Take back a hit (`skipFailedRequests`, koa2-ratelimit's `decrement`) in the window it was counted in.
 *
 * KEYS[1]  the counter key
 * ARGV[1]  weight: integer >= 0 to subtract
 * ARGV[2]  the largest PTTL (ms) the key may have and still be the window of that hit: a window
 *          that began after it has a PTTL larger by at least a whole interval
 * Returns  the count afterwards, or -1 when nothing was changed (no key, no TTL, or a newer window)
 *
 * Never creates a key (a bare DECRBY on a missing key would leave "-1" with no TTL), never keeps it
 * below 0, and keeps its TTL (INCRBY/DECRBY do not touch it).
 */
export const UNHIT_LUA = `local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 or ttl > tonumber(ARGV[2]) then
  return -1
end
local count = redis.call('DECRBY', KEYS[1], ARGV[1])
if count < 0 then
  count = redis.call('INCRBY', KEYS[1], -count)
end
return count`;

const HIT_COMMAND = 'redisSuiteRateLimitHitV1';
const UNHIT_COMMAND = 'redisSuiteRateLimitUnhitV1';

interface ScriptedClient {
  [HIT_COMMAND](key: string, weight: number, intervalMs: number): Promise<[number, number]>;
  [UNHIT_COMMAND](key: string, weight: number, maxTtlMs: number): Promise<number>;
}

/** Register the scripts on a client once (idempotent; a client shared with other code keeps working). */
export function withRateLimitScripts(client: RedisClient): ScriptedClient {
  const c = client as unknown as Partial<ScriptedClient> & Pick<RedisClient, 'defineCommand'>;
  if (typeof c[HIT_COMMAND] !== 'function') client.defineCommand(HIT_COMMAND, { numberOfKeys: 1, lua: HIT_LUA });
  if (typeof c[UNHIT_COMMAND] !== 'function') client.defineCommand(UNHIT_COMMAND, { numberOfKeys: 1, lua: UNHIT_LUA });
  return client as unknown as ScriptedClient;
}

export function hitCommand(client: ScriptedClient, key: string, weight: number, intervalMs: number): Promise<[number, number]> {
  return client[HIT_COMMAND](key, weight, intervalMs);
}

export function unhitCommand(client: ScriptedClient, key: string, weight: number, maxTtlMs: number): Promise<number> {
  return client[UNHIT_COMMAND](key, weight, maxTtlMs);
}

export type { ScriptedClient };
