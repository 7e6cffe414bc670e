-- Shared by every script that changes membership, symbols or pins; spliced in where a script says
-- `--@include ring-lib`. It expects KEYS[1] leases (ZSET id -> lease deadline, Redis ms),
-- KEYS[2] members (HASH id -> member JSON), KEYS[3] ring (STRING ring record JSON),
-- KEYS[4] pins (HASH symbol -> id), KEYS[5] the events channel, KEYS[6] joining (ZSET id -> time it
-- asked to join, Redis ms) and KEYS[7] draining (SET of ids whose symbols are moving away).
--
-- A member with a lease is in one of three states: joining (holds a lease, owns nothing yet; joins
-- are admitted in batches once the cluster is quiet, so a cold start is one rebalance, not one per
-- worker), active (on the ring), or draining (owns nothing, hands its symbols over, then leaves).

local function redis_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The stored record's epoch, vnodes and universe epoch (0, nil and nil when there is no readable
-- record: none, garbage, or a value of another kind, which a live member's heartbeat then rewrites).
local function current_record()
  local raw = redis.pcall('GET', KEYS[3])
  if not raw or type(raw) == 'table' then return 0, nil, nil end
  local ok, record = pcall(cjson.decode, raw)
  if ok and type(record) == 'table' and tonumber(record.epoch) then
    return tonumber(record.epoch), tonumber(record.vnodes), tonumber(record.universe)
  end
  return 0, nil, nil
end

local function current_epoch()
  local epoch = current_record()
  return epoch
end

-- Forgets every trace of a member.
local function forget(id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[6], id)
  redis.call('SREM', KEYS[7], id)
end

-- Removes members whose lease deadline has passed, except `spare` (a member renewing right now);
-- returns the ids removed that were on the ring (active or draining): only those change it.
local function reap_expired(now, spare)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
  local on_ring = {}
  for _, id in ipairs(expired) do
    if id ~= spare then
      if not redis.call('ZSCORE', KEYS[6], id) then on_ring[#on_ring + 1] = id end
      forget(id)
    end
  end
  return on_ring
end

-- Admits every joining member at once when no one asked to join for `settle_ms`, or when the first
-- of them has waited `settle_max_ms`. Returns the ids admitted (empty when it is not time yet).
local function admit_settled(now, settle_ms, settle_max_ms)
  local first = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
  if #first == 0 then return {} end
  local last = redis.call('ZRANGE', KEYS[6], -1, -1, 'WITHSCORES')
  if now - tonumber(last[2]) < settle_ms and now - tonumber(first[2]) < settle_max_ms then return {} end
  local ids = redis.call('ZRANGE', KEYS[6], 0, -1)
  redis.call('DEL', KEYS[6])
  return ids
end

-- Rewrites the ring record from the live members in sorted order, bumps the epoch and publishes it.
-- Joining members are left out; draining members are listed with `draining` (they own nothing but
-- still hand over). The virtual-node count is a cluster-wide parameter: the first record fixes it,
-- later callers' values are ignored so that every worker keeps building the same ring. The new epoch
-- is above `floor` too: a worker rejoining a Redis that lost its data passes the highest epoch it
-- saw, so epochs never go back. `universe` is the epoch at which the symbol universe last changed:
-- this one where `universe_changed` (set-symbols) or no record says otherwise, the previous record's
-- otherwise, so that a reader holding the universe of that epoch need not read it again.
local function rewrite_ring(now, reason, default_vnodes, floor, universe_changed)
  local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
  table.sort(ids)
  local members = {}
  for _, id in ipairs(ids) do
    if not redis.call('ZSCORE', KEYS[6], id) then
      local info = redis.call('HGET', KEYS[2], id)
      local ok, member = pcall(cjson.decode, info or '{}')
      if not ok or type(member) ~= 'table' then member = {} end
      members[#members + 1] = {
        id = id,
        weight = tonumber(member.weight) or 1,
        address = member.address or '',
        draining = redis.call('SISMEMBER', KEYS[7], id) == 1,
      }
    end
  end
  local pins = {}
  local flat = redis.call('HGETALL', KEYS[4])
  for i = 1, #flat, 2 do pins[flat[i]] = flat[i + 1] end
  local previous_epoch, stored_vnodes, stored_universe = current_record()
  local epoch = math.max(previous_epoch, tonumber(floor) or 0) + 1
  local vnodes = stored_vnodes or default_vnodes
  local universe = stored_universe
  if universe_changed or not universe then universe = epoch end
  local record = { v = 1, epoch = epoch, members = members, pins = pins, vnodes = vnodes,
                   changedAt = now, reason = reason, universe = universe }
  local encoded = cjson.encode(record)
  -- cjson encodes an empty table as an object; readers accept both, but keep members a list.
  encoded = string.gsub(encoded, '"members":{}', '"members":[]')
  redis.call('SET', KEYS[3], encoded)
  -- PUBLISH for subscribers of a single server (or Sentinel-managed primary); SPUBLISH for those of a
  -- Redis Cluster, where sharded pub/sub stays on the node owning this slot (Redis 7; an older
  -- server refuses it, and pcall ignores that).
  redis.call('PUBLISH', KEYS[5], tostring(epoch))
  redis.pcall('SPUBLISH', KEYS[5], tostring(epoch))
  return epoch
end

-- Ids on the ring that own symbols (active: not joining, not draining).
local function active_ids()
  local active = {}
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if not redis.call('ZSCORE', KEYS[6], id) and redis.call('SISMEMBER', KEYS[7], id) == 0 then
      active[#active + 1] = id
    end
  end
  return active
end
