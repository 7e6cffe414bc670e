-- drain: marks a member draining: the ring is rewritten without it, so its symbols move to the
-- others through planned hand-overs; the member sees the mark, hands over and leaves.
-- KEYS: see ring-lib (leases, members, ring, pins, channel, joining, draining)
-- ARGV[1] id, ARGV[2] vnodes per weight unit
-- Reply: { epoch, 1 if newly marked else 0 }, or { -2 } when the id holds no live lease, { -4 } when
-- it is the only active member (nobody could take its symbols).
--@include ring-lib
local id, vnodes = ARGV[1], tonumber(ARGV[2])
local now = redis_now_ms()
local deadline = tonumber(redis.call('ZSCORE', KEYS[1], id))
if not deadline or deadline < now then return { -2 } end
if redis.call('SISMEMBER', KEYS[7], id) == 1 then return { current_epoch(), 0 } end
local active = active_ids()
if #active == 1 and active[1] == id then return { -4 } end
redis.call('ZREM', KEYS[6], id)
redis.call('SADD', KEYS[7], id)
return { rewrite_ring(now, 'drain ' .. id, vnodes, 0), 1 }
