-- Record the end of a cron run, unless a newer run of the task started meanwhile.
--
-- KEYS[1]  the task's history hash
-- ARGV[1]  the run id written when the run started
-- ARGV[2]  TTL of the hash in ms
-- ARGV[3..] field/value pairs to write
-- Returns  1 when written, 0 when the hash holds another run
if redis.call('HGET', KEYS[1], 'run') ~= ARGV[1] then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
