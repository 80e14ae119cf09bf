-- Add an entry key to a tag set and keep the set alive at least as long as the entry.
--
-- KEYS[1]  the tag set
-- ARGV[1]  the entry key (member)
-- ARGV[2]  the entry's TTL in ms
-- Returns  the set's PTTL afterwards
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
local want = tonumber(ARGV[2])
if ttl < want then
  redis.call('PEXPIRE', KEYS[1], want)
  ttl = want
end
return ttl
