-- Index an entry under a tag: the tag's sorted set of entry keys, each scored by when its entry
-- expires (ms, this server's clock). Members whose entries have expired are trimmed first (at
-- most ARGV[4] per call), so the set holds the live entries only, however many distinct keys
-- pass through it. The set is kept alive at least as long as its longest-lived member.
-- Needs Redis >= 6.2 (ZADD GT).
--
-- KEYS[1]  the tag index (sorted set)
-- ARGV[1]  the entry key (member)
-- ARGV[2]  the entry's TTL in ms
-- ARGV[3]  slack in ms added to the score (the entry's SET, on another node, may land a moment later)
-- ARGV[4]  the most expired members trimmed by this call
-- Returns  the index's PTTL afterwards, ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = now + tonumber(ARGV[2]) + tonumber(ARGV[3])
local expired = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. string.format('%d', now))
if expired > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, math.min(expired, tonumber(ARGV[4])) - 1)
end
-- GT: a score only moves later. Two fills of one key may reach the entry's node and this one in
-- different orders; the member must outlive whichever SET landed last.
redis.call('ZADD', KEYS[1], 'GT', string.format('%d', expires), ARGV[1])
local want = expires - now
local ttl = redis.call('PTTL', KEYS[1])
if ttl < want then
  redis.call('PEXPIRE', KEYS[1], string.format('%d', want))
  ttl = want
end
return ttl
