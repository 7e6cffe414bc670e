-- checkpoint: writes aggregates of symbols the caller owns, fenced per symbol.
-- KEYS[1] leases (ZSET), KEYS[2] checkpoint epochs (HASH symbol -> epoch), KEYS[3] checkpoints
-- (HASH symbol -> JSON)
-- ARGV[1] worker id, ARGV[2] epoch the caller acts at, ARGV[3] '1' for the final checkpoints of a
-- hand-over, ARGV[4..] symbol, JSON pairs
-- Reply: { written, refused symbols... } or { -1 } when the caller holds no live lease. A symbol is
-- refused when a newer epoch has claimed it (a zombie never overwrites its successor's state). A
-- hand-over final is refused also where the symbol is fenced at this very epoch (another final, a
-- standby's standing in, or the new owner's claim came first): a late final never overwrites what
-- the new owner loaded, and of two exact finals the first stays.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if not deadline or deadline < now then return { -1 } end
local epoch = tonumber(ARGV[2])
local handOver = ARGV[3] == '1'
local reply = { 0 }
for i = 4, #ARGV, 2 do
  local symbol = ARGV[i]
  local claimed = tonumber(redis.call('HGET', KEYS[2], symbol)) or 0
  if claimed > epoch or (handOver and claimed == epoch) then
    reply[#reply + 1] = symbol
  else
    redis.call('HSET', KEYS[3], symbol, ARGV[i + 1])
    redis.call('HSET', KEYS[2], symbol, epoch)
    reply[1] = reply[1] + 1
  end
end
return reply
