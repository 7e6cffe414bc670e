-- heartbeat: renews a live member's lease and reaps members whose lease expired.
-- KEYS: see ring-lib (leases, members, ring, pins, channel)
-- ARGV[1] id, ARGV[2] lease ms, ARGV[3] vnodes per weight unit
-- Reply: { epoch, lease deadline ms } or { -1 } when the member's lease had already lapsed (it must
-- stop, then join again).
--@include ring-lib
local id, lease_ms, vnodes = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = redis_now_ms()
local deadline = tonumber(redis.call('ZSCORE', KEYS[1], id))
local reaped = reap_expired(now)
local epoch
if #reaped > 0 then
  epoch = rewrite_ring(now, 'reaped ' .. table.concat(reaped, ','), vnodes)
else
  epoch = current_epoch()
end
if not deadline or deadline < now then return { -1 } end
redis.call('ZADD', KEYS[1], now + lease_ms, id)
return { epoch, now + lease_ms }
