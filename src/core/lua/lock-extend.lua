-- Extend a lock on one member, only if it still holds every one of its keys.
--
-- KEYS     the lock's keys
-- ARGV[1]  the lock's value
-- ARGV[2]  new TTL in ms, from now
-- Returns  the number of keys extended: all of them, or 0 when any key holds something else (then
--          nothing was changed)
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) ~= ARGV[1] then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('PEXPIRE', key, ARGV[2])
end
return #KEYS
