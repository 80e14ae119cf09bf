-- Start a purge of a tag: move its index to a key of this purge's own, atomically, so the purge
-- drains exactly the entries indexed until now while new fills index themselves in a fresh set
-- (a fill landing during the drain is never removed from the index by it). RENAME keeps the TTL.
-- The drain key is recorded in the tag's registry of drains in progress, in the same step: a purge
-- that starts while another still drains goes through that drain too (store.ts `purge`), so it
-- never returns while an entry indexed before it can still be read.
--
-- KEYS[1]  the tag index (sorted set)
-- KEYS[2]  this purge's drain key (same hash slot: the tag index's name plus a suffix)
-- KEYS[3]  the tag's registry of drain keys (a set, same hash slot)
-- Returns  1 when the index was taken, 0 when the tag has no index
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SADD', KEYS[3], KEYS[2])
-- the registry lives at least as long as the drain it lists (an index always has a TTL)
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 and redis.call('PTTL', KEYS[3]) < ttl then
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return 1
