-- Release a fill lock only when it still holds our token.
--
-- KEYS[1]  the lock key
-- ARGV[1]  the token
-- Returns  1 when released, 0 when it had expired or was taken by another filler
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
