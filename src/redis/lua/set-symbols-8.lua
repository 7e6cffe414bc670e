-- set-symbols: adds or removes symbols of the universe and rewrites the ring when it changed.
-- KEYS: see ring-lib (leases, members, ring, pins, channel, joining, draining), KEYS[8] symbols (SET)
-- ARGV[1] 'add' or 'rm', ARGV[2] vnodes per weight unit, ARGV[3..] symbols
-- Reply: { epoch, number of symbols changed }
--@include ring-lib
local op, vnodes = ARGV[1], tonumber(ARGV[2])
local changed = 0
for i = 3, #ARGV do
  if op == 'add' then
    changed = changed + redis.call('SADD', KEYS[8], ARGV[i])
  else
    changed = changed + redis.call('SREM', KEYS[8], ARGV[i])
    -- A pin of a symbol that left the universe would linger unseen.
    redis.call('HDEL', KEYS[4], ARGV[i])
  end
end
if changed > 0 then
  return { rewrite_ring(redis_now_ms(), op .. ' ' .. changed .. ' symbols', vnodes, 0, true), changed }
end
return { current_epoch(), 0 }
