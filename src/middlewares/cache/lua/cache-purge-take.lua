-- Start a purge of a tag: move its index to a key of this purge's own, atomically, so the purge
-- drains exactly the entries indexed until now while new fills index themselves in a fresh set
-- (a fill landing during the drain is never removed from the index by it). RENAME keeps the TTL.
--
-- KEYS[1]  the tag index (sorted set)
-- KEYS[2]  this purge's drain key (same hash slot: the tag index's name plus a suffix)
-- Returns  the number of members to drain (0 when the tag has no index)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('RENAME', KEYS[1], KEYS[2])
return redis.call('ZCARD', KEYS[2])
