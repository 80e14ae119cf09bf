-- Release a lock on one member: delete each of its keys that still holds its value.
--
-- KEYS     the lock's keys
-- ARGV[1]  the lock's value
-- Returns  the number of keys deleted
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
