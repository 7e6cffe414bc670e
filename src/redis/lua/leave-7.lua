-- leave: removes a member at once (graceful shutdown or the end of a drain) and rewrites the ring
-- when it was on it.
-- KEYS: see ring-lib (leases, members, ring, pins, channel, joining, draining)
-- ARGV[1] id, ARGV[2] vnodes per weight unit
-- Reply: { epoch, 1 if the member was present else 0 }
--@include ring-lib
local id, vnodes = ARGV[1], tonumber(ARGV[2])
local now = redis_now_ms()
local present = redis.call('ZSCORE', KEYS[1], id)
local on_ring = present and not redis.call('ZSCORE', KEYS[6], id)
forget(id)
local reaped = reap_expired(now, nil)
local reasons = {}
if on_ring then reasons[#reasons + 1] = 'leave ' .. id end
if #reaped > 0 then reasons[#reasons + 1] = 'reaped ' .. table.concat(reaped, ',') end
local epoch = current_epoch()
if #reasons > 0 then epoch = rewrite_ring(now, table.concat(reasons, '; '), vnodes, 0) end
return { epoch, present and 1 or 0 }
