-- Take back a hit (skipFailedRequests, koa2-ratelimit's decrement) in the window it was counted in.
--
-- KEYS[1]  the counter key
-- ARGV[1]  weight: integer >= 0 to subtract
-- ARGV[2]  the largest PTTL (ms) the key may have and still be the window of that hit: a window
--          that began after it has a PTTL larger by at least a whole interval
-- Returns  the count afterwards, or -1 when nothing was changed (no key, no TTL, or a newer window)
--
-- Never creates a key (a bare DECRBY on a missing key would leave "-1" with no TTL), never keeps it
-- below 0, and keeps its TTL (INCRBY/DECRBY do not touch it).
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 or ttl > tonumber(ARGV[2]) then
  return -1
end
local count = redis.call('DECRBY', KEYS[1], ARGV[1])
if count < 0 then
  count = redis.call('INCRBY', KEYS[1], -count)
end
return count
