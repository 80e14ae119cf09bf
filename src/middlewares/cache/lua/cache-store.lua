-- Store a response cache entry and index it under its tags, in one step, unless a purge of one of
-- its tags ran since its response was built (the tag's generation moved). On one server this is
-- the whole write: no reader sees the entry before it is indexed, and a purge runs either before it
-- (its INCR is seen here: nothing is stored) or after it (the entry is in the index it drains).
-- On a Cluster the keys live on many slots: the script then runs once per tag with that tag's
-- index alone (no generations, no entry), and store.ts checks the generations around the SET.
--
-- An index is the tag's sorted set of entry keys, each scored by when its entry expires (ms, this
-- server's clock). Members whose entries have expired are trimmed first (at most ARGV[7] per index
-- per call), so the set holds the live entries only, however many distinct keys pass through it.
-- The set is kept alive at least as long as its longest-lived member. Needs Redis >= 6.2 (ZADD GT).
--
-- KEYS     ARGV[1] generation counters, then ARGV[2] tag indexes, then the entry (left out when ARGV[3] is '')
-- ARGV[1]  how many generation counters lead KEYS
-- ARGV[2]  how many tag indexes follow them
-- ARGV[3]  the entry's value ('': index only, no entry key given)
-- ARGV[4]  the entry key (the index member)
-- ARGV[5]  the entry's TTL in ms
-- ARGV[6]  slack in ms added to the score (on a Cluster the entry's SET, on another node, may land a moment later)
-- ARGV[7]  the most expired members trimmed per index
-- ARGV[7 + i]  the generation KEYS[i] had when the response was built ('0' when it was missing)
-- Returns  1 when written, 0 when a generation had moved (nothing written)
local gens = tonumber(ARGV[1])
local tags = tonumber(ARGV[2])
for i = 1, gens do
  if (redis.call('GET', KEYS[i]) or '0') ~= ARGV[7 + i] then
    return 0
  end
end
local ttlMs = tonumber(ARGV[5])
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[gens + tags + 1], ARGV[3], 'PX', ttlMs)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = now + ttlMs + tonumber(ARGV[6])
local want = expires - now
for i = gens + 1, gens + tags do
  local index = KEYS[i]
  local expired = redis.call('ZCOUNT', index, '-inf', '(' .. string.format('%d', now))
  if expired > 0 then
    redis.call('ZREMRANGEBYRANK', index, 0, math.min(expired, tonumber(ARGV[7])) - 1)
  end
  -- GT: a score only moves later. Two fills of one key may reach the entry's node and this one in
  -- different orders; the member must outlive whichever SET landed last.
  redis.call('ZADD', index, 'GT', string.format('%d', expires), ARGV[4])
  if redis.call('PTTL', index) < want then
    redis.call('PEXPIRE', index, string.format('%d', want))
  end
end
return 1
