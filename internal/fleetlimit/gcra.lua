-- GCRA for one key, atomically, on Redis's clock (package fleetlimit).
-- KEYS[1]: the key, holding the theoretical arrival time (TAT) in µs.
-- ARGV[1]: the emission interval (1/rate) in µs; ARGV[2]: the burst.
-- Returns {1, 0} when the call is allowed (the TAT moves on one interval),
-- {0, µs until it would be} when refused (nothing changes).
if redis.replicate_commands then
  redis.replicate_commands() -- Redis < 5: replicate the SET, not the script reading TIME
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local limit = interval * tonumber(ARGV[2]) -- how far past now the TAT may run
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local ahead = tat + interval - now
if ahead > limit then
  return {0, math.ceil(ahead - limit)}
end
-- The key lives until its bucket would be full again.
redis.call('SET', KEYS[1], string.format('%d', now + ahead), 'PX', math.ceil(ahead / 1000))
return {1, 0}
