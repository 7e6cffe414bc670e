-- heartbeat: renews a live member's lease, reaps members whose lease expired and admits the joining
-- members once the cluster is quiet.
-- KEYS: see ring-lib (leases, members, ring, pins, channel, joining, draining)
-- ARGV[1] id, ARGV[2] lease ms, ARGV[3] vnodes per weight unit, ARGV[4] settle ms, ARGV[5] settle
-- max ms
-- Reply: { epoch, lease deadline ms } or { -1 } when the member's lease had already lapsed (it must
-- stop, then join again).
--@include ring-lib
local id, lease_ms, vnodes = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local settle_ms, settle_max_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = redis_now_ms()
local deadline = tonumber(redis.call('ZSCORE', KEYS[1], id))
local reasons = {}
local reaped = reap_expired(now, nil)
if #reaped > 0 then reasons[#reasons + 1] = 'reaped ' .. table.concat(reaped, ',') end
local admitted = admit_settled(now, settle_ms, settle_max_ms)
if #admitted > 0 then reasons[#reasons + 1] = 'join ' .. table.concat(admitted, ',') end
local epoch
if #reasons > 0 then
  epoch = rewrite_ring(now, table.concat(reasons, '; '), vnodes, 0)
else
  epoch = current_epoch()
end
if not deadline or deadline < now then return { -1 } end
redis.call('ZADD', KEYS[1], now + lease_ms, id)
return { epoch, now + lease_ms }
