-- leave: removes a member at once (graceful shutdown or drain) and rewrites the ring.
-- KEYS: see ring-lib (leases, members, ring, pins, channel)
-- ARGV[1] id, ARGV[2] vnodes per weight unit
-- Reply: { epoch, 1 if the member was present else 0 }
--@include ring-lib
local id, vnodes = ARGV[1], tonumber(ARGV[2])
local now = redis_now_ms()
local present = redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
reap_expired(now)
if present == 1 then return { rewrite_ring(now, 'leave ' .. id, vnodes), 1 } end
return { current_epoch(), 0 }
