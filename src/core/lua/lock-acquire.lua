-- Take a lock on every given resource at once on one member, with each resource's fencing token.
--
-- KEYS     pairs, one per resource: its lock key, then its fence counter (one hash slot per pair)
-- ARGV[1]  the lock's value (random, unique to this acquire)
-- ARGV[2]  lock TTL in ms
-- ARGV[3]  '1': issue a fencing token per resource; '0': leave the counters alone
-- ARGV[4]  fence counter TTL in ms, renewed with each token
-- Returns  { 1, token per resource... } when every lock key was free and is now set (tokens 0 when
--          ARGV[3] is '0'); { 0, holder } when a lock key is held (its value; nothing was changed)
--
-- A token is the counter + 1. A counter that does not exist (first use, or expired after ARGV[4] ms
-- unused) starts at the server's clock in ms, which is above every token it handed out before as
-- long as it issued fewer than one token per ms on average over its life.
for i = 1, #KEYS, 2 do
  local lock = KEYS[i]
  local holder = redis.call('GET', lock)
  if holder then return { 0, holder } end
end
local out = { 1 }
for i = 1, #KEYS, 2 do
  local lock = KEYS[i]
  local fence = KEYS[i + 1]
  redis.call('SET', lock, ARGV[1], 'PX', ARGV[2])
  local token = 0
  if ARGV[3] == '1' then
    if redis.call('EXISTS', fence) == 1 then
      token = redis.call('INCR', fence)
    else
      local now = redis.call('TIME')
      local ms = now[1] .. string.format('%03d', math.floor(tonumber(now[2]) / 1000))
      redis.call('SET', fence, ms)
      token = tonumber(ms)
    end
    redis.call('PEXPIRE', fence, ARGV[4])
  end
  out[#out + 1] = token
end
return out
