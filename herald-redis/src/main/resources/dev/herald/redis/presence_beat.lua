-- A node's heartbeat. KEYS: nodes zset. ARGV: node, stale window (ms).
-- Returns {resync, dead}: resync 1 when the node was missing or stale (Redis lost it, or the
-- others took it for dead and may have swept its entries: it must write them again); dead, one
-- stale node to sweep, or '' if none.
local now = nowMillis()
local cutoff = now - tonumber(ARGV[2])
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
local resync = 0
if old == false or old == nil or tonumber(old) < cutoff then
  resync = 1
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', cutoff),
  'LIMIT', 0, 1)
return {resync, dead[1] or ''}
