-- checkpoint: writes aggregates of symbols the caller owns, fenced per symbol.
-- KEYS[1] leases (ZSET), KEYS[2] checkpoint epochs (HASH symbol -> epoch), KEYS[3] checkpoints
-- (HASH symbol -> record)
-- ARGV[1] worker id, ARGV[2] epoch the caller acts at, ARGV[3] '1' for the final checkpoints of a
-- hand-over, ARGV[4] the records, one after another, each as: symbol length and record length
-- (unsigned 32-bit little-endian), the symbol, the record. One argument rather than two per symbol:
-- the worker packs aggregates straight into it, and its client copies one buffer instead of
-- building a command of 400 arguments (see `CheckpointWriter`).
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
local records = ARGV[4] or ''
local size = #records
-- The framing is checked whole before anything is written: a script's writes stay when it fails
-- half-way, and a cut-short batch must change nothing.
local at = 1
while at <= size do
  if at + 7 > size then return redis.error_reply('ERR checkpoint records are cut short') end
  local symbolBytes, recordBytes, from = struct.unpack('<I4I4', records, at)
  at = from + symbolBytes + recordBytes
  if at - 1 > size then return redis.error_reply('ERR checkpoint records are cut short') end
end
local reply = { 0 }
at = 1
while at <= size do
  local symbolBytes, recordBytes, from = struct.unpack('<I4I4', records, at)
  at = from + symbolBytes + recordBytes
  local symbol = string.sub(records, from, from + symbolBytes - 1)
  local claimed = tonumber(redis.call('HGET', KEYS[2], symbol)) or 0
  if claimed > epoch or (handOver and claimed == epoch) then
    reply[#reply + 1] = symbol
  else
    redis.call('HSET', KEYS[3], symbol, string.sub(records, from + symbolBytes, at - 1))
    redis.call('HSET', KEYS[2], symbol, epoch)
    reply[1] = reply[1] + 1
  end
end
return reply
