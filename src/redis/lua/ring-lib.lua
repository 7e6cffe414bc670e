-- Shared by every script that changes membership, symbols or pins; spliced in where a script says
-- `--@include ring-lib`. It expects KEYS[1] leases (ZSET id -> lease deadline, Redis ms),
-- KEYS[2] members (HASH id -> member JSON), KEYS[3] ring (STRING ring record JSON),
-- KEYS[4] pins (HASH symbol -> id) and KEYS[5] the events channel.

local function redis_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The stored record's epoch and vnodes (0 and nil when there is no readable record).
local function current_record()
  local raw = redis.call('GET', KEYS[3])
  if not raw then return 0, nil end
  local ok, record = pcall(cjson.decode, raw)
  if ok and type(record) == 'table' and tonumber(record.epoch) then
    return tonumber(record.epoch), tonumber(record.vnodes)
  end
  return 0, nil
end

local function current_epoch()
  local epoch = current_record()
  return epoch
end

-- Removes members whose lease deadline has passed; returns the ids removed.
local function reap_expired(now)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
  for _, id in ipairs(expired) do
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
  end
  return expired
end

-- Rewrites the ring record from the live members in sorted order, bumps the epoch and publishes it.
-- The virtual-node count is a cluster-wide parameter: the first record fixes it, later callers'
-- values are ignored so that every worker keeps building the same ring.
local function rewrite_ring(now, reason, default_vnodes)
  local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
  table.sort(ids)
  local members = {}
  for i, id in ipairs(ids) do
    local info = redis.call('HGET', KEYS[2], id)
    local ok, member = pcall(cjson.decode, info or '{}')
    if not ok or type(member) ~= 'table' then member = {} end
    members[i] = { id = id, weight = tonumber(member.weight) or 1, address = member.address or '' }
  end
  local pins = {}
  local flat = redis.call('HGETALL', KEYS[4])
  for i = 1, #flat, 2 do pins[flat[i]] = flat[i + 1] end
  local previous_epoch, stored_vnodes = current_record()
  local epoch = previous_epoch + 1
  local vnodes = stored_vnodes or default_vnodes
  local record = { v = 1, epoch = epoch, members = members, pins = pins, vnodes = vnodes,
                   changedAt = now, reason = reason }
  local encoded = cjson.encode(record)
  -- cjson encodes an empty table as an object; readers accept both, but keep members a list.
  encoded = string.gsub(encoded, '"members":{}', '"members":[]')
  redis.call('SET', KEYS[3], encoded)
  redis.call('PUBLISH', KEYS[5], tostring(epoch))
  return epoch
end
