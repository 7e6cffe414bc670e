-- heartbeat: renews a live member's lease, reaps members whose lease expired and admits the joining
-- members once the cluster is quiet.
-- KEYS: see ring-lib (leases, members, ring, pins, channel, joining, draining)
-- ARGV[1] id, ARGV[2] lease ms, ARGV[3] vnodes per weight unit, ARGV[4] settle ms, ARGV[5] settle
-- max ms, ARGV[6] the highest epoch the member saw (optional): a record below it was lost, say by a
-- failover to a replica that had not received it, and is rewritten above it so epochs never go back
-- Reply: { epoch, lease deadline ms, ms until the soonest other member's lease lapses (-1: no other
-- member), that member's id ('' for none) } or { -1 } when the member's lease had already lapsed (it
-- must stop, then join again).
--@include ring-lib
local id, lease_ms, vnodes = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local settle_ms, settle_max_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
local floor = tonumber(ARGV[6]) or 0
local now = redis_now_ms()
local deadline = tonumber(redis.call('ZSCORE', KEYS[1], id))
local reasons = {}
local reaped = reap_expired(now, nil)
if #reaped > 0 then reasons[#reasons + 1] = 'reaped ' .. table.concat(reaped, ',') end
local admitted = admit_settled(now, settle_ms, settle_max_ms)
if #admitted > 0 then reasons[#reasons + 1] = 'join ' .. table.concat(admitted, ',') end
-- Only a live member restores a record, and only one that exists: a Redis that lost everything
-- (no record at all) is rebuilt by join, which also puts the seed symbols back.
local alive = deadline and deadline >= now
if alive and redis.call('EXISTS', KEYS[3]) == 1 and current_epoch() < floor then
  reasons[#reasons + 1] = 'ring record restored'
end
local epoch
if #reasons > 0 then
  epoch = rewrite_ring(now, table.concat(reasons, '; '), vnodes, floor)
else
  epoch = current_epoch()
end
if not deadline or deadline < now then return { -1 } end
redis.call('ZADD', KEYS[1], now + lease_ms, id)
-- The soonest lease of another member, so the caller can reap it the moment it lapses (reaping above
-- took every lease already past; ours, just renewed, is rarely among the first two).
local next_lapse, next_id = -1, ''
local soonest = redis.call('ZRANGE', KEYS[1], 0, 1, 'WITHSCORES')
for i = 1, #soonest, 2 do
  if soonest[i] ~= id then
    next_lapse, next_id = tonumber(soonest[i + 1]) - now, soonest[i]
    break
  end
end
return { epoch, now + lease_ms, next_lapse, next_id }
