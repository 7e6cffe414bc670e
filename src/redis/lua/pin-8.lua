-- pin: places a symbol on a chosen member (or removes the pin) and rewrites the ring in one step.
-- KEYS: see ring-lib (leases, members, ring, pins, channel, joining, draining), KEYS[8] symbols (SET)
-- ARGV[1] 'pin' or 'unpin', ARGV[2] symbol, ARGV[3] member id ('' for unpin), ARGV[4] vnodes per
-- weight unit
-- Reply: { epoch, 1 if the pins changed else 0 }, or { -2 } when the member is not an active member
-- of the ring, { -3 } when the symbol is not in the universe.
--@include ring-lib
local op, symbol, id, vnodes = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = redis_now_ms()
if op == 'pin' then
  if redis.call('SISMEMBER', KEYS[8], symbol) == 0 then return { -3 } end
  local deadline = tonumber(redis.call('ZSCORE', KEYS[1], id))
  if not deadline or deadline < now or redis.call('ZSCORE', KEYS[6], id)
    or redis.call('SISMEMBER', KEYS[7], id) == 1 then
    return { -2 }
  end
  if redis.call('HGET', KEYS[4], symbol) == id then return { current_epoch(), 0 } end
  redis.call('HSET', KEYS[4], symbol, id)
  return { rewrite_ring(now, 'pin ' .. symbol .. ' to ' .. id, vnodes, 0), 1 }
end
if redis.call('HDEL', KEYS[4], symbol) == 0 then return { current_epoch(), 0 } end
return { rewrite_ring(now, 'unpin ' .. symbol, vnodes, 0), 1 }
