-- Raise a resource's fence counter on one member to a token a majority agreed on (never lowers it).
--
-- KEYS[1]  the fence counter
-- ARGV[1]  the token
-- ARGV[2]  fence counter TTL in ms, renewed
-- Returns  the counter afterwards (at least ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local token = tonumber(ARGV[1])
if current < token then
  redis.call('SET', KEYS[1], ARGV[1])
  current = token
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return current
