-- write-bars: writes completed bars of many series and trims each series to the newest `cap`, in
-- one call instead of a MULTI of three commands per bar (whose ioredis command objects were most
-- of a worker's checkpoint garbage). Atomic as the MULTI was: a reader sees every bar's old
-- version or its new one, never both or neither. Variadic: the caller passes the key count first.
-- KEYS[1..n] the series' bar ZSETs (one cluster hash tag, so Redis Cluster takes them in one call)
-- ARGV[1] cap; then per key, in order: the number of bars b, then b pairs of start, member
-- Reply: the number of bars written.
local cap = tonumber(ARGV[1])
local a = 2
local written = 0
for k = 1, #KEYS do
  local key = KEYS[k]
  local count = tonumber(ARGV[a])
  a = a + 1
  for _ = 1, count do
    local start = ARGV[a]
    -- An amended bar has a new member at the same score: the old one goes first.
    redis.call('ZREMRANGEBYSCORE', key, start, start)
    redis.call('ZADD', key, start, ARGV[a + 1])
    a = a + 2
    written = written + 1
  end
  redis.call('ZREMRANGEBYRANK', key, 0, -(cap + 1))
end
return written
