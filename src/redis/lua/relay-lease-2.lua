-- relay-lease: the fenced lease that elects the one relay holding a feed key's upstream connection.
-- KEYS[1] the lease HASH (holder, until, renewed, token, address, feed), KEYS[2] the active-relay
-- record (STRING, JSON) that workers read to find the relay.
-- ARGV[1] op: acquire | renew | release, ARGV[2] relay id, ARGV[3] lease ms, ARGV[4] the relay's
-- worker-facing URL, ARGV[5] the upstream feed name.
-- Reply: { code, token, ms, renewed }
--   acquire: { 1, token, lease ms, when the previous holder last held the lease (0: never) } when
--     granted, the token rising by one whenever the lease changes hands (or is taken again after it
--     lapsed); { 0, token, ms until the current holder's lease lapses, 0 } when someone else holds it.
--   renew: { 1, token, lease ms, 0 }, or { -1, token, 0, 0 } when the lease is no longer this relay's.
--   release: { 1, token, 0, 0 } when it was this relay's, else { 0, token, 0, 0 }.
-- Time is Redis time, so relays on machines with different clocks agree on who holds the lease.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op, id, lease_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local holder = redis.call('HGET', KEYS[1], 'holder')
local until_ms = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
local token = tonumber(redis.call('HGET', KEYS[1], 'token') or '0')
local live = holder and until_ms > now

if op == 'renew' then
  if live and holder == id then
    redis.call('HSET', KEYS[1], 'until', now + lease_ms, 'renewed', now)
    return { 1, token, lease_ms, 0 }
  end
  return { -1, token, 0, 0 }
end

if op == 'acquire' then
  if live and holder ~= id then return { 0, token, until_ms - now, 0 } end
  if live then
    redis.call('HSET', KEYS[1], 'until', now + lease_ms, 'renewed', now)
    return { 1, token, lease_ms, 0 }
  end
  local renewed = tonumber(redis.call('HGET', KEYS[1], 'renewed') or '0')
  token = redis.call('HINCRBY', KEYS[1], 'token', 1)
  redis.call('HSET', KEYS[1], 'holder', id, 'until', now + lease_ms, 'renewed', now, 'address', ARGV[4],
    'feed', ARGV[5])
  redis.call('SET', KEYS[2], cjson.encode({ holder = id, token = token, address = ARGV[4], feed = ARGV[5] }))
  return { 1, token, lease_ms, renewed }
end

if op == 'release' then
  if holder ~= id then return { 0, token, 0, 0 } end
  -- The token stays: the next holder's must be higher.
  redis.call('HDEL', KEYS[1], 'holder')
  redis.call('HSET', KEYS[1], 'until', 0, 'renewed', now)
  local active = redis.call('GET', KEYS[2])
  if active and cjson.decode(active)['token'] == token then redis.call('DEL', KEYS[2]) end
  return { 1, token, 0, 0 }
end

return redis.error_reply('relay-lease: unknown op ' .. tostring(op))
