-- Count a hit in a fixed window.
--
-- KEYS[1]  the counter key
-- ARGV[1]  weight: integer >= 0 added to the counter
-- ARGV[2]  window length in ms (integer >= 1)
-- Returns  { count after the increment, ms until the window resets (always > 0) }
--
-- The expiry is set when the key has none (PTTL -1): a new key, and also a key left without a TTL
-- by anything else, so no counter can live forever.
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return { count, ttl }
