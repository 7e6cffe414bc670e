-- join: adds or renews a member's lease and records its info; reaps expired members.
-- KEYS: see ring-lib (leases, members, ring, pins, channel)
-- ARGV[1] id, ARGV[2] lease ms, ARGV[3] member JSON {address, weight}, ARGV[4] vnodes per weight unit
-- Reply: { epoch, lease deadline ms, 1 if the ring changed else 0 }
--@include ring-lib
local id, lease_ms, info, vnodes = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local now = redis_now_ms()
local reaped = reap_expired(now)
local known = redis.call('ZSCORE', KEYS[1], id)
local previous = redis.call('HGET', KEYS[2], id)
redis.call('ZADD', KEYS[1], now + lease_ms, id)
redis.call('HSET', KEYS[2], id, info)
-- A member rejoining with the same id and info before its lease ran out changes nothing: no rebalance.
local changed = #reaped > 0 or not known or previous ~= info or redis.call('EXISTS', KEYS[3]) == 0
if changed then
  return { rewrite_ring(now, 'join ' .. id, vnodes), now + lease_ms, 1 }
end
return { current_epoch(), now + lease_ms, 0 }
