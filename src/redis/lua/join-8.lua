-- join: adds or renews a member's lease and records its info; reaps expired members and admits the
-- joining ones once the cluster is quiet.
-- KEYS: see ring-lib (leases, members, ring, pins, channel, joining, draining), KEYS[8] symbols (SET)
-- ARGV[1] id, ARGV[2] lease ms, ARGV[3] member JSON (see member-info.ts), ARGV[4] vnodes per
-- weight unit, ARGV[5] settle ms, ARGV[6] settle max ms, ARGV[7] the highest epoch the member saw,
-- ARGV[8..] seed symbols, added only when the cluster has no ring record (new, or Redis lost it)
-- Reply: { epoch, lease deadline ms, 1 if the ring changed else 0, 1 if the member waits to be
-- admitted else 0 }
--@include ring-lib
local id, lease_ms, info, vnodes = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local settle_ms, settle_max_ms, floor = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]) or 0
local now = redis_now_ms()
-- The caller's own lapsed entry is spared: if nobody reaped it yet, the ring never moved its symbols
-- and a restart with the same id and info (static membership) changes nothing.
local reaped = reap_expired(now, id)
local known = redis.call('ZSCORE', KEYS[1], id)
local was_joining = redis.call('ZSCORE', KEYS[6], id)
local previous = redis.call('HGET', KEYS[2], id)
local fresh = redis.call('EXISTS', KEYS[3]) == 0
redis.call('ZADD', KEYS[1], now + lease_ms, id)
redis.call('HSET', KEYS[2], id, info)
if fresh then
  for i = 8, #ARGV do redis.call('SADD', KEYS[8], ARGV[i]) end
end
local reasons = {}
if #reaped > 0 then reasons[#reasons + 1] = 'reaped ' .. table.concat(reaped, ',') end
if not known then
  -- New (or reaped): wait to be admitted together with whoever else joins now.
  redis.call('ZADD', KEYS[6], 'NX', now, id)
elseif not was_joining and previous ~= info then
  -- On the ring with a new address or weight: the record must say so at once.
  reasons[#reasons + 1] = 'member ' .. id .. ' changed'
end
local admitted = admit_settled(now, settle_ms, settle_max_ms)
if #admitted > 0 then reasons[#reasons + 1] = 'join ' .. table.concat(admitted, ',') end
if fresh or current_epoch() < floor then reasons[#reasons + 1] = 'ring record restored' end
local epoch, changed = current_epoch(), 0
if #reasons > 0 then
  epoch, changed = rewrite_ring(now, table.concat(reasons, '; '), vnodes, floor), 1
end
local waiting = redis.call('ZSCORE', KEYS[6], id) and 1 or 0
return { epoch, now + lease_ms, changed, waiting }
