-- claim: a new owner fences symbols at its epoch and loads their last checkpoints in one step.
-- KEYS[1] leases (ZSET), KEYS[2] checkpoint epochs (HASH), KEYS[3] checkpoints (HASH), KEYS[4]
-- holders (HASH symbol -> the worker that claimed it last: until that worker writes a checkpoint, the
-- checkpoints name only the owner before it, and a later owner must know whom to wait for)
-- ARGV[1] worker id, ARGV[2] epoch, ARGV[3..] symbols
-- Reply: { 1, json-or-false per symbol... } or { -1 } when the caller holds no live lease. A symbol
-- already claimed or handed over at a newer epoch answers 0 and is left as it is: the caller is
-- behind, and takes the symbol over again at that epoch if it is still its own there.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if not deadline or deadline < now then return { -1 } end
local epoch = tonumber(ARGV[2])
local reply = { 1 }
for i = 3, #ARGV do
  local symbol = ARGV[i]
  local claimed = tonumber(redis.call('HGET', KEYS[2], symbol)) or 0
  if claimed > epoch then
    reply[#reply + 1] = 0
  else
    redis.call('HSET', KEYS[2], symbol, epoch)
    redis.call('HSET', KEYS[4], symbol, ARGV[1])
    reply[#reply + 1] = redis.call('HGET', KEYS[3], symbol)
  end
end
return reply
