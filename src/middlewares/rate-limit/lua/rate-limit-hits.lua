-- Count one hit per key in fixed windows: the hits of one event-loop turn on one server, in one call.
--
-- KEYS     the counter keys, n of them (distinct or not: each is counted in order)
-- ARGV     for each key i: ARGV[2i-1] the weight (integer >= 0), ARGV[2i] the window in ms (>= 1)
-- Returns  { count_1, ttl_1, ..., count_n, ttl_n }: per key, as rate-limit-hit.lua returns; a
--          key whose INCRBY failed (a key of another type) gets its error's text as count_i
--          and 0 as ttl_i, so one bad key fails only its own hit
--
-- Standalone and Sentinel only: on a Cluster the keys of a turn lie in different slots.
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local count = redis.pcall('INCRBY', key, ARGV[2 * i - 1])
  if type(count) == 'table' and count.err then
    out[2 * i - 1] = count.err
    out[2 * i] = 0
  else
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      ttl = tonumber(ARGV[2 * i])
      redis.call('PEXPIRE', key, ttl)
    end
    out[2 * i - 1] = count
    out[2 * i] = ttl
  end
end
return out
